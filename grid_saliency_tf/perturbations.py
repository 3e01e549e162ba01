"""Image perturbations and mask resampling (Hoyer et al., NeurIPS 2019, Sec. 3.1).

``p(x, M) = x * M + a * (1 - M)`` removes the information of ``x`` outside the saliency mask ``M``
by interpolating towards a perturbation image ``a`` (a constant image, a blurred copy of ``x`` or
noise). The context form of Eq. 3 replaces ``a`` by ``p(x, R)``, the image that keeps only the
request region: ``p_context(x, R, M) = x * M + p(x, R) * (1 - M)``. The perturbed image is clipped to
the range of the original image space. Masks are optimised at a low resolution and upsampled.
"""

from __future__ import annotations

import math

import tensorflow as tf

from grid_saliency_tf.validation import check_choice, check_int, check_number

__all__ = [
    "CONSTANT_VALUES",
    "PERTURBATIONS",
    "UPSAMPLING_METHODS",
    "perturb",
    "context_perturbation",
    "constant_image",
    "blurred_image",
    "noise_image",
    "upsample_mask",
    "resize_masks",
    "erode_masks",
]

#: Kinds of perturbation image ``a``.
PERTURBATIONS = ("constant", "blur", "noise")
#: The grey values of the constant perturbation, as fractions of the value range (supplement S1.2).
CONSTANT_VALUES = (0.0, 0.25, 0.5, 0.75, 1.0)
#: Upsampling of the low-resolution mask to the image size.
UPSAMPLING_METHODS = ("nearest", "bilinear")


def perturb(
    images: tf.Tensor, masks: tf.Tensor, perturbation: tf.Tensor, value_range: tuple[float, float]
) -> tf.Tensor:
    """``p(x, M) = x * M + a * (1 - M)``, clipped to ``value_range`` (Sec. 3.1).

    Args:
        images: ``x``, float32 of shape ``(n, height, width, channels)``.
        masks: ``M``, float32 in [0, 1] of shape ``(n, height, width)`` at image resolution.
        perturbation: ``a``, float32 broadcastable to ``images``.
        value_range: ``(low, high)`` of the image space.

    Returns:
        float32 tensor of shape ``(n, height, width, channels)``.
    """
    masks = masks[..., None]
    mixed = images * masks + perturbation * (1.0 - masks)
    return tf.clip_by_value(mixed, value_range[0], value_range[1])


def context_perturbation(
    images: tf.Tensor,
    request_masks: tf.Tensor,
    masks: tf.Tensor,
    perturbation: tf.Tensor,
    value_range: tuple[float, float],
) -> tf.Tensor:
    """``p_context(x, R, M) = x * M + p(x, R) * (1 - M)`` of Eq. 3.

    Args:
        images: ``x``, float32 of shape ``(n, height, width, channels)``.
        request_masks: ``R``, float32 in {0, 1} of shape ``(n, height, width)`` at image resolution.
        masks: ``M``, float32 in [0, 1] of shape ``(n, height, width)`` at image resolution.
        perturbation: ``a``, float32 broadcastable to ``images``.
        value_range: ``(low, high)`` of the image space.

    Returns:
        float32 tensor of shape ``(n, height, width, channels)``.
    """
    request_only = perturb(images, request_masks, perturbation, value_range)
    return perturb(images, masks, request_only, value_range)


def constant_image(values: tf.Tensor, value_range: tuple[float, float]) -> tf.Tensor:
    """A constant perturbation image per request, ``a = low + v * (high - low)``.

    Args:
        values: float32 of shape ``(n,)``, fractions of the value range (the paper's grey values
            {0, 0.25, 0.5, 0.75, 1} for images in [0, 1], supplement S1.2).
        value_range: ``(low, high)`` of the image space.

    Returns:
        float32 tensor of shape ``(n, 1, 1, 1)``, broadcastable to the images.
    """
    low, high = value_range
    return tf.reshape(low + values * (high - low), [-1, 1, 1, 1])


def _gaussian_kernel(sigma: float, radius: int) -> tf.Tensor:
    offsets = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel = tf.exp(-0.5 * tf.square(offsets / sigma))
    return kernel / tf.reduce_sum(kernel)


def blurred_image(images: tf.Tensor, sigma: float) -> tf.Tensor:
    """A Gaussian-blurred copy of the images, the blur perturbation of Fong and Vedaldi (2017).

    The blur is separable, with symmetric padding at the borders; its radius is ``ceil(3 sigma)``,
    capped at the image size.

    Args:
        images: float32 of shape ``(n, height, width, channels)`` with static spatial shape.
        sigma: Standard deviation of the Gaussian in pixels, > 0.

    Returns:
        float32 tensor of shape ``(n, height, width, channels)``.

    Raises:
        TypeError, ValueError: If ``sigma`` is not a number > 0.
    """
    sigma = check_number("sigma", sigma, 0.0, low_open=True)
    height, width, channels = images.shape[1], images.shape[2], images.shape[3]
    radius_y = max(0, min(int(math.ceil(3 * sigma)), height - 1))
    radius_x = max(0, min(int(math.ceil(3 * sigma)), width - 1))
    padded = tf.pad(images, [[0, 0], [radius_y, radius_y], [radius_x, radius_x], [0, 0]], mode="SYMMETRIC")
    kernel_y = tf.tile(tf.reshape(_gaussian_kernel(sigma, radius_y), [-1, 1, 1, 1]), [1, 1, channels, 1])
    kernel_x = tf.tile(tf.reshape(_gaussian_kernel(sigma, radius_x), [1, -1, 1, 1]), [1, 1, channels, 1])
    blurred = tf.nn.depthwise_conv2d(padded, kernel_y, strides=[1, 1, 1, 1], padding="VALID")
    return tf.nn.depthwise_conv2d(blurred, kernel_x, strides=[1, 1, 1, 1], padding="VALID")


def noise_image(
    image_shape: tf.TensorShape | tuple[int, int, int],
    seed: int,
    value_range: tuple[float, float],
) -> tf.Tensor:
    """A uniform-noise perturbation image, the same for every request of a call.

    One noise image, drawn from ``seed`` with a stateless generator, is shared by all requests so
    that the result of a request does not depend on the other requests of its batch.

    Args:
        image_shape: ``(height, width, channels)``.
        seed: Integer seed.
        value_range: ``(low, high)``: the noise is uniform on this range.

    Returns:
        float32 tensor of shape ``(1, height, width, channels)``.
    """
    shape = [1, *[int(d) for d in image_shape]]
    return tf.random.stateless_uniform(
        shape, seed=[seed, 0x5A11], minval=value_range[0], maxval=value_range[1], dtype=tf.float32
    )


def upsample_mask(masks: tf.Tensor, size: tuple[int, int], method: str) -> tf.Tensor:
    """Upsamples low-resolution saliency masks to the image size.

    Args:
        masks: float32 of shape ``(n, grid_height, grid_width)``.
        size: ``(height, width)`` of the images.
        method: ``"nearest"`` (toy benchmark, supplement S1.2) or ``"bilinear"`` (Cityscapes,
            supplement S2.1).

    Returns:
        float32 tensor of shape ``(n, height, width)``.

    Raises:
        ValueError: If ``method`` is not one of :data:`UPSAMPLING_METHODS`.
    """
    check_choice("method", method, UPSAMPLING_METHODS)
    if tuple(masks.shape[1:]) == tuple(size):
        return masks
    grid_height, grid_width = int(masks.shape[1]), int(masks.shape[2])
    if method == "nearest" and size[0] % grid_height == 0 and size[1] % grid_width == 0:
        # Same values as resize(nearest) for integer factors, with a cheaper gradient.
        repeated = tf.repeat(masks, size[0] // grid_height, axis=1)
        return tf.repeat(repeated, size[1] // grid_width, axis=2)
    resized = tf.image.resize(masks[..., None], size, method=method)
    return resized[..., 0]


def resize_masks(masks: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """Resizes binary masks with nearest-neighbour sampling; a no-op when the size already fits.

    Args:
        masks: float32 of shape ``(n, height_in, width_in)``.
        size: Target ``(height, width)``.

    Returns:
        float32 tensor of shape ``(n, height, width)``.
    """
    if tuple(masks.shape[1:]) == tuple(size):
        return masks
    return tf.image.resize(masks[..., None], size, method="nearest")[..., 0]


def erode_masks(masks: tf.Tensor, size: int) -> tf.Tensor:
    """Binary erosion with a ``size x size`` square kernel (supplement S1.2: 3 x 3).

    Pixels outside the image do not erode (like OpenCV's default border), so a mask touching the
    border keeps its border pixels.

    Args:
        masks: float32 in {0, 1} of shape ``(n, height, width)``.
        size: Odd kernel size >= 1; 1 returns the masks unchanged.

    Returns:
        float32 tensor of shape ``(n, height, width)``.

    Raises:
        TypeError, ValueError: If ``size`` is not an odd integer >= 1.
    """
    if check_int("size", size, 1) % 2 == 0:
        raise ValueError(f"Argument `size` must be odd; received {size!r}.")
    if size == 1:
        return masks
    inverted = 1.0 - masks[..., None]
    dilated = tf.nn.max_pool2d(inverted, ksize=size, strides=1, padding="SAME")
    return 1.0 - dilated[..., 0]
