"""Speed of the explanation engine on a U-Net-sized model (issue: the explanation engine).

Prints, from one run (ratios are measured within the run; wall-clock times vary with the machine):

1. overhead: time(GridSaliencyOptimizer.explain) / time(`steps` plain forward+backward passes of the
   same batch of request images), for 32 requests over 8 images of 64x64. The plain passes are a
   compiled loop of input gradients of the model's output, the cost floor of grid saliency.
2. requests per second of every method at batch 1 and batch 32;
3. the compiled grid saliency loop against the same loop run eagerly.

Usage:
    python benchmarks/bench_engine.py [--repeats 3] [--steps 100] [--width 16]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from grid_saliency_tf import (GridSaliencyOptimizer, IntegratedGradients, Requests, SegGradCAM,  # noqa: E402
                              SmoothGrad, VanillaGradient)

SIZE, CLASSES = 64, 11


def unet(width: int) -> keras.Model:
    """A 4-level U-Net on 64x64x1 images with 11 classes (softmax), ``width`` filters at the top."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIZE, SIZE, 1))
    x, skips = inputs, []
    for level in range(4):
        x = keras.layers.Conv2D(width * 2 ** level, 3, padding="same", activation="relu")(x)
        x = keras.layers.Conv2D(width * 2 ** level, 3, padding="same", activation="relu")(x)
        skips.append(x)
        x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(width * 16, 3, padding="same", activation="relu", name="bottleneck")(x)
    for level in reversed(range(4)):
        x = keras.layers.UpSampling2D(2)(x)
        x = keras.layers.Concatenate()([x, skips[level]])
        x = keras.layers.Conv2D(width * 2 ** level, 3, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(CLASSES, 1, name="logits")(x)
    return keras.Model(inputs, keras.layers.Softmax()(x))


def data(num_requests: int, num_images: int) -> tuple[np.ndarray, Requests]:
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (num_images, SIZE, SIZE, 1)).astype(np.float32)
    masks = np.zeros((num_requests, SIZE, SIZE), np.float32)
    for i in range(num_requests):
        top, left = rng.integers(8, 40, size=2)
        masks[i, top:top + 16, left:left + 16] = 1
    return images, Requests(np.arange(num_requests) % num_images, rng.integers(0, CLASSES, num_requests), masks)


def timed(function, repeats: int) -> float:
    """Best of ``repeats`` wall-clock times of ``function()`` (after one warm-up call)."""
    function()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def plain_passes(model: keras.Model, steps: int):
    """A compiled loop of ``steps`` forward+backward passes (input gradient) on a batch."""

    @tf.function
    def run(batch: tf.Tensor) -> tf.Tensor:
        total = tf.zeros_like(batch)
        for _ in tf.range(steps):
            with tf.GradientTape() as tape:
                tape.watch(batch)
                output = model(batch + total * 0.0, training=False)
            total += tape.gradient(output, batch)
        return total

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--eager-steps", type=int, default=10)
    args = parser.parse_args()

    model = unet(args.width)
    print(f"U-Net: {model.count_params():,} parameters, input 64x64x1, 11 classes; TF {tf.__version__}, "
          f"{os.cpu_count()} CPU core(s), GPU: {bool(tf.config.list_physical_devices('GPU'))}")

    images, requests = data(32, 8)
    optimizer = GridSaliencyOptimizer(model, steps=args.steps)
    request_images = tf.gather(tf.constant(images), requests.image_indices)
    floor = plain_passes(model, args.steps)
    # Interleave the two measurements so that load on the machine hits both alike.
    explain_times, floor_times = [], []
    optimizer.explain(images, requests)
    floor(request_images)
    for _ in range(args.repeats):
        start = time.perf_counter()
        optimizer.explain(images, requests)
        explain_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        floor(request_images).numpy()
        floor_times.append(time.perf_counter() - start)
    ratio = min(explain_times) / min(floor_times)
    print(f"[overhead] explain 32 requests / 8 images, {args.steps} steps: {min(explain_times):.3f} s; "
          f"{args.steps} plain forward+backward passes of the same 32 images: {min(floor_times):.3f} s; "
          f"ratio {ratio:.3f} (target <= 1.15)")

    methods = {
        "grid_saliency": GridSaliencyOptimizer(model, steps=args.steps),
        "vanilla_gradient": VanillaGradient(model),
        "integrated_gradients (25 steps)": IntegratedGradients(model),
        "smooth_grad (25 samples)": SmoothGrad(model),
        "seg_grad_cam": SegGradCAM(model, "bottleneck"),
    }
    for name, explainer in methods.items():
        rates = []
        for batch in (1, 32):
            batch_images, batch_requests = data(batch, min(batch, 8))
            seconds = timed(lambda: explainer.explain(batch_images, batch_requests), args.repeats)
            rates.append(batch / seconds)
        print(f"[requests/s] {name:32s} batch 1: {rates[0]:9.2f}   batch 32: {rates[1]:9.2f}")

    short = GridSaliencyOptimizer(model, steps=args.eager_steps)
    compiled = timed(lambda: short.explain(images, requests), args.repeats)
    tf.config.run_functions_eagerly(True)
    try:
        eager = timed(lambda: short.explain(images, requests), 1)
    finally:
        tf.config.run_functions_eagerly(False)
    print(f"[compiled vs eager] {args.eager_steps} steps, 32 requests: compiled {compiled:.3f} s, "
          f"eager {eager:.3f} s, eager/compiled {eager / compiled:.2f}x")


if __name__ == "__main__":
    main()
