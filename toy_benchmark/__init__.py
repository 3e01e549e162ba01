"""toy_benchmark: the MNIST-on-textures benchmark with induced context bias (Hoyer et al. 2019, Sec. 4).

Data: `DatasetVariant` configures a dataset, `make_dataset` streams it as a `tf.data.Dataset`,
`write_dataset` / `load_dataset` materialise it and read it back. See docs/toy_dataset.md.
Evaluation and protocol: `evaluate` measures one network (`MetricsRecord`), `run_benchmark` runs a
`Profile` resumably and writes its report. See docs/toy_benchmark.md.
"""

from toy_benchmark.data import (
    BACKGROUND_CLASS,
    BIAS_HALF_BOTTOM,
    BIAS_HALF_NONE,
    BIAS_HALF_TOP,
    BIAS_STRENGTHS,
    DEFAULT_NUM_SAMPLES,
    GENERATOR_VERSION,
    IMAGE_SIZE,
    NUM_CLASSES,
    NUM_DIGITS,
    PROCEDURAL_TEXTURE_NAMES,
    SAMPLE_FIELDS,
    SPLITS,
    DatasetManifest,
    DatasetVariant,
    DataSources,
    MnistDigits,
    SampleGenerator,
    TexturePool,
    WriteResult,
    bundled_mnist_path,
    dataset_config,
    derive_key,
    digit_masks,
    element_spec,
    load_dataset,
    load_mnist,
    load_texture_folder,
    load_textures,
    make_dataset,
    philox4x32,
    procedural_textures,
    read_manifest,
    resolve_sources,
    sample_grid,
    texture_contact_sheet,
    verify_dataset,
    write_dataset,
    write_previews,
)

__all__ = [
    # Dataset configuration (variant.py)
    "BACKGROUND_CLASS",
    "BIAS_HALF_BOTTOM",
    "BIAS_HALF_NONE",
    "BIAS_HALF_TOP",
    "BIAS_STRENGTHS",
    "DEFAULT_NUM_SAMPLES",
    "DatasetVariant",
    "IMAGE_SIZE",
    "NUM_CLASSES",
    "NUM_DIGITS",
    "SPLITS",
    # Sources (mnist.py, textures.py, sources.py)
    "DataSources",
    "MnistDigits",
    "PROCEDURAL_TEXTURE_NAMES",
    "TexturePool",
    "bundled_mnist_path",
    "digit_masks",
    "load_mnist",
    "load_texture_folder",
    "load_textures",
    "procedural_textures",
    # Generation (philox.py, generator.py)
    "GENERATOR_VERSION",
    "SAMPLE_FIELDS",
    "SampleGenerator",
    "derive_key",
    "philox4x32",
    # Consumption (streaming.py, manifest.py, writer.py, reader.py)
    "DatasetManifest",
    "WriteResult",
    "dataset_config",
    "element_spec",
    "load_dataset",
    "make_dataset",
    "read_manifest",
    "resolve_sources",
    "verify_dataset",
    "write_dataset",
    # Figures (previews.py)
    "sample_grid",
    "texture_contact_sheet",
    "write_previews",
]

# Models and training (issue 4): the benchmark's U-Nets and their training protocol (supplement S1.2).
# `training.train` is not re-exported: `toy_benchmark.train_main` is the training binary's module.
from toy_benchmark.models import BACKBONES, BOTTLENECK_LAYER, LOGITS_LAYER, PROBABILITIES_LAYER, ToyUNet
from toy_benchmark.training import (
    PAPER_PROTOCOL,
    STRATEGIES,
    ToyTrainingData,
    TrainingResult,
    learning_rate_for_epoch,
    make_strategy,
    read_checkpoint_state,
    toy_training_data,
    train_toy_unet,
)

__all__ += [
    "BACKBONES",
    "PAPER_PROTOCOL",
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
    "train_toy_unet",
]

# Evaluation and the benchmark protocol (Sec. 4.2, Fig. 4, S10, S11): the wings' main entry points.
from toy_benchmark.benchmark import PAPER, PROFILES, Profile, RunSpec, SweepSpec, aggregate, run_benchmark, write_report
from toy_benchmark.evaluation import METHODS, MetricsRecord, build_explainers, evaluate, load_model

__all__ += [
    "METHODS",
    "MetricsRecord",
    "PAPER",
    "PROFILES",
    "Profile",
    "RunSpec",
    "SweepSpec",
    "aggregate",
    "build_explainers",
    "evaluate",
    "load_model",
    "run_benchmark",
    "write_report",
]
