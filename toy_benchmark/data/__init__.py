"""The data wing of the toy benchmark: MNIST digits on textures with an induced context bias.

Paper Sec. 4.1 and supplement S1.1; every open choice is pinned down in TOY_DATASET_SPEC.md. The path of
the data: `variant` (what a dataset is) -> `mnist`, `textures`, `sources` (the sources, resolved once)
-> `philox`, `generator` (sample i as a pure function) -> `streaming` (`tf.data`), or `writer` /
`manifest` / `reader` (sharded files and back) -> `previews`. The bundled `mnist_10k.npz` lives in this
folder (provenance in README.md).
"""

from toy_benchmark.data.generator import GENERATOR_VERSION, SAMPLE_FIELDS, SampleGenerator
from toy_benchmark.data.manifest import (
    DATASET_KIND,
    FORMAT_VERSION,
    MANIFEST_NAME,
    PARTIAL_MANIFEST_NAME,
    RECORD_DTYPE,
    DatasetCounts,
    DatasetManifest,
    Shard,
    ShardCounts,
    dataset_config,
    read_manifest,
)
from toy_benchmark.data.mnist import MnistDigits, bundled_mnist_path, digit_masks, load_mnist
from toy_benchmark.data.philox import derive_key, philox4x32, uniform_below
from toy_benchmark.data.previews import (
    CLASS_COLORS,
    preview_files,
    sample_grid,
    texture_contact_sheet,
    write_previews,
)
from toy_benchmark.data.contrast import fine_scale_contrast
from toy_benchmark.data.imitation import (
    IMITATION_MAX_SHARE,
    IMITATION_TOLERANCE,
    constant_share,
    is_imitated_by_a_constant,
)
from toy_benchmark.data.reader import load_dataset, verify_dataset
from toy_benchmark.data.sources import DataSources, resolve_sources
from toy_benchmark.data.streaming import dataset_from_sample_fn, element_spec, make_dataset, shard_range
from toy_benchmark.data.textures import (
    PROCEDURAL_TEXTURE_NAMES,
    TexturePool,
    load_texture_folder,
    load_textures,
    procedural_textures,
)
from toy_benchmark.data.variant import (
    BACKGROUND_CLASS,
    BIAS_HALF_BOTTOM,
    BIAS_HALF_NONE,
    BIAS_HALF_TOP,
    BIAS_STRENGTHS,
    DEFAULT_NUM_SAMPLES,
    IMAGE_SIZE,
    NUM_CLASSES,
    NUM_DIGITS,
    SPLITS,
    DatasetVariant,
)
from toy_benchmark.data.writer import WRITE_STATUSES, WriteResult, sha256_of_file, write_dataset

__all__ = [
    # variant.py
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
    # mnist.py, textures.py, imitation.py, contrast.py, sources.py
    "DataSources",
    "IMITATION_MAX_SHARE",
    "IMITATION_TOLERANCE",
    "MnistDigits",
    "PROCEDURAL_TEXTURE_NAMES",
    "TexturePool",
    "bundled_mnist_path",
    "constant_share",
    "digit_masks",
    "fine_scale_contrast",
    "is_imitated_by_a_constant",
    "load_mnist",
    "load_texture_folder",
    "load_textures",
    "procedural_textures",
    "resolve_sources",
    # philox.py, generator.py
    "GENERATOR_VERSION",
    "SAMPLE_FIELDS",
    "SampleGenerator",
    "derive_key",
    "philox4x32",
    "uniform_below",
    # streaming.py
    "dataset_from_sample_fn",
    "element_spec",
    "make_dataset",
    "shard_range",
    # manifest.py, writer.py, reader.py
    "DATASET_KIND",
    "DatasetCounts",
    "DatasetManifest",
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "PARTIAL_MANIFEST_NAME",
    "RECORD_DTYPE",
    "Shard",
    "ShardCounts",
    "WRITE_STATUSES",
    "WriteResult",
    "dataset_config",
    "load_dataset",
    "read_manifest",
    "sha256_of_file",
    "verify_dataset",
    "write_dataset",
    # previews.py
    "CLASS_COLORS",
    "preview_files",
    "sample_grid",
    "texture_contact_sheet",
    "write_previews",
]
