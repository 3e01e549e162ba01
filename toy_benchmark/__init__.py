"""toy_benchmark."""

# Models and training (issue 4): the benchmark's U-Nets and their training protocol (supplement S1.2).
from toy_benchmark.models import BACKBONES, BOTTLENECK_LAYER, LOGITS_LAYER, PROBABILITIES_LAYER, ToyUNet
from toy_benchmark.training import (
    STRATEGIES,
    ToyTrainingData,
    TrainingResult,
    learning_rate_for_epoch,
    make_strategy,
    read_checkpoint_state,
    toy_training_data,
    train,
    train_toy_unet,
)

__all__ = [
    "BACKBONES",
    "BOTTLENECK_LAYER",
    "LOGITS_LAYER",
    "PROBABILITIES_LAYER",
    "STRATEGIES",
    "ToyTrainingData",
    "ToyUNet",
    "TrainingResult",
    "learning_rate_for_epoch",
    "make_strategy",
    "read_checkpoint_state",
    "toy_training_data",
    "train",
    "train_toy_unet",
]
