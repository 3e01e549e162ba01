"""The training wing of the toy benchmark: the U-Nets' training protocol (supplement S1.2).

`schedule` (the protocol's settings, learning-rate schedules, data order) -> `inputs` (batches; the training
set of a toy-dataset variant) -> `strategy` (tf.distribute) -> `callbacks`, `checkpoints` -> `trainer`
(`train`, `train_toy_unet`: a resumable run in a locked run folder).
"""

from toy_benchmark.training.callbacks import EpochLogger, Progress, StepLearningRate, TensorBoardLogger
from toy_benchmark.training.checkpoints import (
    CHECKPOINT_DIR,
    CHECKPOINT_STATE,
    CheckpointState,
    architecture,
    read_checkpoint_state,
    save_checkpoint,
)
from toy_benchmark.training.inputs import ToyTrainingData, check_elements, prepare_batches, toy_training_data
from toy_benchmark.training.schedule import (
    PAPER_PROTOCOL,
    SCHEDULES,
    TrainingProtocol,
    check_schedule,
    epoch_seed,
    learning_rate_at_step,
    learning_rate_for_epoch,
)
from toy_benchmark.training.strategy import STRATEGIES, configure_cpu_devices, make_strategy
from toy_benchmark.training.trainer import (
    FINAL_MODEL,
    LOG_DIR,
    TRAINING_KIND,
    TrainingResult,
    train,
    train_toy_unet,
)

__all__ = [
    "CHECKPOINT_DIR",
    "CHECKPOINT_STATE",
    "CheckpointState",
    "EpochLogger",
    "FINAL_MODEL",
    "LOG_DIR",
    "PAPER_PROTOCOL",
    "Progress",
    "SCHEDULES",
    "STRATEGIES",
    "StepLearningRate",
    "TRAINING_KIND",
    "TensorBoardLogger",
    "ToyTrainingData",
    "TrainingProtocol",
    "TrainingResult",
    "architecture",
    "check_elements",
    "check_schedule",
    "configure_cpu_devices",
    "epoch_seed",
    "learning_rate_at_step",
    "learning_rate_for_epoch",
    "make_strategy",
    "prepare_batches",
    "read_checkpoint_state",
    "save_checkpoint",
    "toy_training_data",
    "train",
    "train_toy_unet",
]
