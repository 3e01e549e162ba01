"""A Keras segmentation model with a known context dependence, built from fixed-weight standard layers.

Tests of the context statistics need a model whose use of context is known in advance. This one
recognises classes by colour and resolves one ambiguity by context:

- every class ``c`` is recognised by its colour (nearest colour, ``logit_c = -||x - colour_c||^2 / T``);
  a class painted in a colour of its own needs nothing but its own pixels (self-contained, supplement
  S2.2 of Hoyer et al., NeurIPS 2019: its context saliency is empty);
- a pixel whose colour two classes share (`promoted` and `demoted`) becomes `promoted` when pixels of
  `context_color` lie within a window around it, else `demoted`:
  ``logit_promoted += s (2 b - 1) / 2``, ``logit_demoted -= s (2 b - 1) / 2`` with
  ``b = clip(gain * mean_window(exp(-||x - context_color||^2 / (2 sigma^2))) - offset, 0, 1)``.

So the context saliency of a `promoted` request must fall on the context colour. With ``strength=0``
and a colour table in which every class has its own colour, the model reads no context at all.
The Cityscapes fixture (rider only with a bicycle nearby) and the COCO fixture (boat only on water)
are instances of it.
"""

from __future__ import annotations

import keras
import numpy as np

__all__ = ["color_rule_model"]


def color_rule_model(colors: np.ndarray, context_color: np.ndarray, promoted: int, demoted: int, *,
                     name: str = "color_rule_model", cell: int = 4, window: tuple[int, int] = (7, 5),
                     temperature: float = 50.0, sigma: float = 30.0, gain: float = 12.0, offset: float = 0.25,
                     strength: float = 12.0) -> keras.Model:
    """The colour-and-rule model of the module docstring.

    Args:
        colors: ``(classes, 3)``: the colour each class is recognised by (0..255 RGB).
        context_color: ``(3,)``: the colour whose presence nearby turns `demoted` into `promoted`.
        promoted, demoted: Class ids of the two classes the rule decides between.
        name: The Keras model's name.
        cell: Side of the square cells the context evidence is averaged over first (image sides must be
            multiples of it).
        window: ``(height, width)`` of the mean filter over those cells.
        temperature: ``T`` of the colour logits.
        sigma: Width of the context-colour similarity.
        gain, offset: ``b = clip(gain * mean - offset, 0, 1)``.
        strength: ``s``, the logit margin between the two classes at ``b = 1`` (0: no context use).

    Returns:
        A Keras model ``(batch, height, width, 3)`` in 0..255 -> ``(batch, height, width, classes)``
        probabilities, for any image size that is a multiple of `cell`.

    Raises:
        ValueError: If `colors` is not ``(classes, 3)`` or a class id is outside it.
    """
    colors = np.asarray(colors, np.float64)
    if colors.ndim != 2 or colors.shape[1] != 3:
        raise ValueError(f"Argument `colors` must have shape (classes, 3); received {colors.shape}.")
    classes = colors.shape[0]
    for argument, value in (("promoted", promoted), ("demoted", demoted)):
        if not 0 <= int(value) < classes:
            raise ValueError(f"Argument `{argument}` must be a class id in [0, {classes}); received {value!r}.")
    inputs = keras.Input((None, None, 3))
    appearance = keras.layers.Conv2D(classes, 1, name="appearance")
    logits = appearance(inputs)
    appearance.set_weights([(2.0 * colors.T / temperature)[None, None].astype(np.float32),
                            (-(colors ** 2).sum(axis=1) / temperature).astype(np.float32)])
    squares = keras.layers.Multiply(name="squares")([inputs, inputs])
    similarity = keras.layers.Conv2D(1, 1, activation="exponential", name="context_similarity")
    context = similarity(keras.layers.Concatenate(name="features")([squares, inputs]))
    center = np.asarray(context_color, np.float64)
    scale = 1.0 / (2.0 * sigma ** 2)
    similarity.set_weights([np.concatenate([-scale * np.ones(3), 2.0 * scale * center])[None, None, :, None]
                            .astype(np.float32), np.array([-scale * (center ** 2).sum()], np.float32)])
    # A mean over about `window` cells of `cell` pixels, on a coarse grid (TensorFlow's CPU average
    # pooling is slow for large windows), brought back to the image size bilinearly.
    coarse = keras.layers.AveragePooling2D(cell, name="coarse")(context)
    coarse = keras.layers.AveragePooling2D(tuple(window), strides=1, padding="same", name="nearby")(coarse)
    mean = keras.layers.UpSampling2D(cell, interpolation="bilinear", name="upsampled")(coarse)
    evidence = keras.layers.Conv2D(1, 1, name="evidence")
    nearby = keras.layers.ReLU(max_value=1.0, name="context_nearby")(evidence(mean))
    evidence.set_weights([np.full((1, 1, 1, 1), gain, np.float32), np.array([-offset], np.float32)])
    rule = keras.layers.Conv2D(classes, 1, name="rule")
    shift = rule(nearby)
    weights = np.zeros((1, 1, 1, classes), np.float32)
    biases = np.zeros(classes, np.float32)
    weights[..., promoted], biases[promoted] = strength, -strength / 2
    weights[..., demoted], biases[demoted] = -strength, strength / 2
    rule.set_weights([weights, biases])
    outputs = keras.layers.Softmax(name="probabilities")(keras.layers.Add()([logits, shift]))
    return keras.Model(inputs, outputs, name=name)
