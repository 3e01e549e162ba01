"""Native Keras 3 DeepLabv3+ with the official MobileNetV2 and Xception-65 architectures.

:class:`DeepLabV3Plus` is a functional Keras model whose layers carry the official scope names
(``/`` written ``.``); :func:`load_deeplab` builds it for a model-zoo download (tarball, folder,
checkpoint prefix or frozen graph) and loads the weights strictly (every variable used exactly once).
In ``"parity"`` mode it reproduces the frozen export, in ``"any_size"`` mode it takes any image size
with global image pooling. :class:`NativeZooModel` gives it the interface of ``DeepLabModel`` for
``deeplab-explain --backend=keras``. Fixtures of the full architectures: :mod:`.fixtures`. See
docs/deeplab_native.md.
"""

from deeplab_utils.native.export import ExportSettings, infer_architecture, read_export_settings
from deeplab_utils.native.layers import (
    AlignedResize,
    BroadcastLike,
    ConvUnit,
    CropLike,
    ImagePoolingAverage,
    PadToCrop,
    layer_name,
    official_scope,
)
from deeplab_utils.native.loader import (
    LoadReport,
    assign_official_weights,
    build_deeplab,
    load_deeplab,
    official_variables,
)
from deeplab_utils.native.model import DeepLabV3Plus, zoo_atrous_rates
from deeplab_utils.native.sources import (
    OfficialVariables,
    from_checkpoint,
    from_frozen_graph,
    from_mapping,
    open_official,
)
from deeplab_utils.native.zoo_model import NativeZooModel

__all__ = [
    "AlignedResize",
    "BroadcastLike",
    "ConvUnit",
    "CropLike",
    "DeepLabV3Plus",
    "ExportSettings",
    "ImagePoolingAverage",
    "LoadReport",
    "NativeZooModel",
    "OfficialVariables",
    "PadToCrop",
    "assign_official_weights",
    "build_deeplab",
    "from_checkpoint",
    "from_frozen_graph",
    "from_mapping",
    "infer_architecture",
    "layer_name",
    "load_deeplab",
    "official_scope",
    "official_variables",
    "open_official",
    "read_export_settings",
    "zoo_atrous_rates",
]
