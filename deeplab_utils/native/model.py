"""DeepLabv3/v3+ as a Keras 3 functional model with the official architectures of the DeepLab zoo.

:class:`DeepLabV3Plus` maps float images ``(batch, height, width, 3)`` in 0..255 to class logits or
probabilities at the input resolution, as :class:`deeplab_utils.DeepLabModel` does with a frozen export,
so that grid saliency (Hoyer et al., NeurIPS 2019, Sec. 3 and 5) and Seg-Grad-CAM (Vinogradova et al.)
run on it. The computation follows tensorflow/models ``research/deeplab/model.py``:

1. preprocessing: ``(2 / 255) x - 1`` (``feature_extractor._preprocess_zero_mean_unit_range``); in
   ``"parity"`` mode the image is first padded bottom and right to the export crop size with the mean
   pixel 127.5, as the exported graph does;
2. backbone (:mod:`deeplab_utils.native.backbones`) at the output stride;
3. ``_extract_features``: the image-level feature (average pooling, ``image_pooling`` 1x1 convolution,
   upsampled), ``aspp0`` (1x1) and, when atrous rates are given, the split separable ``aspp1..``
   branches, concatenated and projected by ``concat_projection``; batch norm epsilon 1e-5 as written,
   1.001e-5 as TF 1.x ran it (see ``head_batch_norm_epsilon``), ReLU;
4. ``refine_by_decoder`` (Xception-65): ``decoder/feature_projection0`` (1x1, 48 channels) of the
   stride-4 end point, the ASPP output resized to it (align corners), two split separable 256-channel
   convolutions ``decoder/decoder_conv{0,1}``;
5. ``logits/semantic`` (1x1 with biases), resized with align corners to the (padded) image size; in
   parity mode cropped back to the image.

The two modes differ only in the image-level feature and padding: ``"parity"`` pools over the window
of the export crop size after padding to it (the frozen graph exactly; images larger than the crop
are refused), ``"any_size"`` pools globally over the image's own features without padding (any size;
what ``model.py`` does when no crop size is given). For an image of exactly the crop size both agree.
"""

from __future__ import annotations

from typing import Any, Sequence

import keras

from deeplab_utils.native import backbones
from deeplab_utils.native import layers

__all__ = ["DeepLabV3Plus", "BACKBONES", "MODES", "zoo_atrous_rates"]

BACKBONES = ("mobilenet_v2", "xception_65")
MODES = ("parity", "any_size")
OUTPUTS = ("probabilities", "logits")
OUTPUT_STRIDES = (8, 16, 32)
# model.py asks for 1e-5 in ASPP and decoder; TF 1.x's fused batch norm, which trained and exported the
# zoo's models, raised any epsilon below 1.001e-5 to it.
HEAD_EPSILON = 1.001e-5
HEAD_MOMENTUM = 0.9997
ASPP_DEPTH = 256
DECODER_DEPTH = 256
DECODER_PROJECTION_DEPTH = 48
DECODER_OUTPUT_STRIDE = 4


def zoo_atrous_rates(backbone: str, output_stride: int) -> tuple[int, ...]:
    """The zoo's ASPP rates: none for MobileNetV2; 6/12/18 at output stride 16 for Xception-65, scaled
    with the stride (12/24/36 at 8)."""
    if backbone == "mobilenet_v2":
        return ()
    return tuple(rate * 16 // output_stride for rate in (6, 12, 18))


def _head_unit(scope: str, head: dict[str, Any], **kwargs: Any) -> layers.ConvUnit:
    """A unit of ASPP or decoder; `head` holds the dtype policy and the batch-norm epsilon."""
    return layers.ConvUnit(scope, batch_norm_momentum=HEAD_MOMENTUM, activation="relu", **head, **kwargs)


def _split_separable(x: keras.KerasTensor, scope: str, filters: int, head: dict[str, Any],
                     rate: int = 1) -> keras.KerasTensor:
    """model.py's ``_split_separable_conv2d``: 3x3 depthwise (batch norm, ReLU) and 1x1 pointwise."""
    x = _head_unit(f"{scope}_depthwise", head, kernel_size=3, dilation_rate=rate)(x)
    return _head_unit(f"{scope}_pointwise", head, filters=filters)(x)


def _check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise ValueError(f"Argument `{name}` must be one of {tuple(choices)}; received {value!r}.")


@keras.saving.register_keras_serializable(package="deeplab_utils")
class DeepLabV3Plus(keras.Model):
    """DeepLabv3+ with a MobileNetV2 or Xception-65 backbone, layers named after the official scopes.

    Every official scope is a layer named with ``.`` for ``/``: ``MobilenetV2.expanded_conv_16.project``,
    ``xception_65.entry_flow.block2.unit_1.xception_module``, ``image_pooling``, ``aspp0``,
    ``aspp1_depthwise``,
    ``concat_projection``, ``decoder.feature_projection0``, ``logits.semantic``. The model ends in
    ``logits`` (the logits at the input resolution) and, for ``output="probabilities"``, a Softmax layer
    ``probabilities``. Weights are random until loaded (:func:`deeplab_utils.native.load_deeplab`).

    Args:
        backbone: ``"mobilenet_v2"`` or ``"xception_65"``.
        num_classes: Classes of ``logits/semantic``.
        depth_multiplier: MobileNetV2 width (1.0 or 0.5 in the zoo); 1.0 for Xception-65.
        output_stride: 8, 16 or 32; None for the zoo's (8 for MobileNetV2, 16 for Xception-65).
        atrous_rates: Rates of the separable ASPP branches; None for the zoo's (:func:`zoo_atrous_rates`).
        decoder: Whether to add the decoder (Xception-65 only); None for the zoo's (Xception-65 yes).
        mode: ``"parity"`` (pad to `crop_size`, pool over its window; matches the frozen graph) or
            ``"any_size"`` (global pooling, no padding).
        crop_size: ``(height, width)`` of the export, required in parity mode, refused otherwise.
        output: ``"probabilities"`` or ``"logits"``.
        head_batch_norm_epsilon: Epsilon of the ASPP and decoder batch norms: 1e-5 in model.py, which
            TF 1.x's fused batch norm raised to 1.001e-5 (the default); the loader reads it from a
            frozen graph.
        name: Model name.
        dtype: Dtype policy (e.g. ``"mixed_float16"``); the logits and probabilities are float32.

    Call arguments:
        images: float ``(batch, height, width, 3)``, values in 0..255 (parity: at most the crop size).

    Returns:
        float32 ``(batch, height, width, num_classes)``.

    Raises:
        ValueError: For an unknown backbone, mode or output, an invalid stride, rate, class count or
            crop size, a decoder or depth multiplier the backbone does not have.
    """

    def __init__(self, backbone: str = "mobilenet_v2", num_classes: int = 21, *,
                 depth_multiplier: float = 1.0, output_stride: int | None = None,
                 atrous_rates: Sequence[int] | None = None, decoder: bool | None = None,
                 mode: str = "any_size", crop_size: Sequence[int] | None = None,
                 output: str = "probabilities", head_batch_norm_epsilon: float = HEAD_EPSILON,
                 name: str | None = None, dtype: Any = None, **kwargs: Any) -> None:
        _check_choice("backbone", backbone, BACKBONES)
        _check_choice("mode", mode, MODES)
        _check_choice("output", output, OUTPUTS)
        if not isinstance(head_batch_norm_epsilon, (int, float)) or head_batch_norm_epsilon <= 0:
            raise ValueError(f"Argument `head_batch_norm_epsilon` must be a positive number; received "
                             f"{head_batch_norm_epsilon!r}.")
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
            raise ValueError(f"Argument `num_classes` must be a positive int; received {num_classes!r}.")
        output_stride = output_stride or (8 if backbone == "mobilenet_v2" else 16)
        _check_choice("output_stride", output_stride, OUTPUT_STRIDES)
        if backbone == "xception_65" and depth_multiplier != 1.0:
            raise ValueError(f"Argument `depth_multiplier` must be 1.0 for xception_65; received "
                             f"{depth_multiplier!r}.")
        if not isinstance(depth_multiplier, (int, float)) or depth_multiplier <= 0:
            raise ValueError(f"Argument `depth_multiplier` must be a positive number; received "
                             f"{depth_multiplier!r}.")
        if atrous_rates is None:
            atrous_rates = zoo_atrous_rates(backbone, output_stride)
        atrous_rates = tuple(atrous_rates)
        if not all(isinstance(rate, int) and rate >= 1 for rate in atrous_rates):
            raise ValueError(f"Argument `atrous_rates` must be positive ints; received {atrous_rates!r}.")
        if decoder is None:
            decoder = backbone == "xception_65"
        if decoder and backbone != "xception_65":
            raise ValueError(f"Argument `decoder` must be False for {backbone} (the official model has no "
                             f"decoder end points for it); received {decoder!r}.")
        if mode == "parity":
            if crop_size is None:
                raise ValueError("Argument `crop_size` must be the export's (height, width) in parity mode; "
                                 "received None.")
            crop_size = layers.PadToCrop(crop_size).crop_size
        elif crop_size is not None:
            raise ValueError(f"Argument `crop_size` must be None in any_size mode (nothing is padded); "
                             f"received {crop_size!r}.")
        policy = keras.dtype_policies.get(dtype) if dtype is not None else keras.config.dtype_policy()
        self_config = {
            "backbone": backbone, "num_classes": num_classes, "depth_multiplier": float(depth_multiplier),
            "output_stride": output_stride, "atrous_rates": atrous_rates, "decoder": bool(decoder),
            "mode": mode, "crop_size": crop_size, "output": output,
            "head_batch_norm_epsilon": float(head_batch_norm_epsilon),
        }
        images, outputs = _build_graph(self_config, policy)
        super().__init__(inputs=images, outputs=outputs, name=name or f"deeplab_{backbone}", dtype=dtype,
                         **kwargs)
        self.deeplab_config = self_config
        self.backbone = backbone
        self.num_classes = num_classes
        self.depth_multiplier = float(depth_multiplier)
        self.output_stride = output_stride
        self.atrous_rates = atrous_rates
        self.decoder = bool(decoder)
        self.mode = mode
        self.crop_size = crop_size
        self.output_kind = output

    def get_config(self) -> dict[str, Any]:
        """Every constructor argument (resolved: the zoo defaults filled in)."""
        config = dict(self.deeplab_config)
        config["atrous_rates"] = list(config["atrous_rates"])
        config["crop_size"] = None if config["crop_size"] is None else list(config["crop_size"])
        config["name"] = self.name
        config["dtype"] = keras.dtype_policies.serialize(self.dtype_policy)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> "DeepLabV3Plus":
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(**config)


def _build_graph(config: dict[str, Any], policy: Any) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """The functional graph of :class:`DeepLabV3Plus` for a resolved config; returns (inputs, outputs)."""
    images = keras.Input((None, None, 3), name="images")
    x = images
    if config["mode"] == "parity":
        x = layers.PadToCrop(config["crop_size"], name="preprocess.pad", dtype=policy)(x)
    padded = x
    x = keras.layers.Rescaling(2.0 / 255.0, -1.0, name="preprocess.scale", dtype=policy)(x)
    stride = config["output_stride"]
    if config["backbone"] == "mobilenet_v2":
        features = backbones.mobilenet_v2(x, depth_multiplier=config["depth_multiplier"],
                                          output_stride=stride, dtype=policy)
        end_points = {}
    else:
        features, end_points = backbones.xception_65(x, output_stride=stride, dtype=policy)
    pool_size = None
    if config["mode"] == "parity":  # model.py: scale_dimension(crop_size, 1 / output_stride)
        pool_size = tuple(int((side - 1) / stride + 1) for side in config["crop_size"])
    head = {"dtype": policy, "batch_norm_epsilon": config["head_batch_norm_epsilon"]}
    pooled = layers.ImagePoolingAverage(pool_size, name="image_pooling.pool", dtype=policy)(features)
    pooled = _head_unit("image_pooling", head, filters=ASPP_DEPTH)(pooled)
    branches = [layers.BroadcastLike(name="image_pooling.upsample", dtype=policy)([pooled, features]),
                _head_unit("aspp0", head, filters=ASPP_DEPTH)(features)]
    for number, rate in enumerate(config["atrous_rates"], start=1):
        branches.append(_split_separable(features, f"aspp{number}", ASPP_DEPTH, head, rate))
    x = keras.layers.Concatenate(name="aspp.concat", dtype=policy)(branches)
    x = _head_unit("concat_projection", head, filters=ASPP_DEPTH)(x)
    if config["decoder"]:
        low_level = end_points[backbones.XCEPTION_DECODER_END_POINT]
        projection = _head_unit("decoder/feature_projection0", head,
                                filters=DECODER_PROJECTION_DEPTH)(low_level)
        x = layers.AlignedResize(name="decoder.upsample", dtype=policy)([x, projection])
        x = keras.layers.Concatenate(name="decoder.concat", dtype=policy)([x, projection])
        x = _split_separable(x, "decoder/decoder_conv0", DECODER_DEPTH, head)
        x = _split_separable(x, "decoder/decoder_conv1", DECODER_DEPTH, head)
    x = layers.ConvUnit("logits/semantic", filters=config["num_classes"], batch_norm_epsilon=None,
                        dtype=policy)(x)
    logits = layers.AlignedResize(name="logits.upsample", dtype="float32")([x, padded])
    if config["mode"] == "parity":
        logits = layers.CropLike(name="logits.crop", dtype="float32")([logits, images])
    logits = keras.layers.Identity(name="logits", dtype="float32")(logits)
    if config["output"] == "probabilities":
        return images, keras.layers.Softmax(name="probabilities", dtype="float32")(logits)
    return images, logits
