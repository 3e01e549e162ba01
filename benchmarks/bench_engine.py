"""Speed of the explanation engine on a U-Net-sized model (issue: the explanation engine).

Prints, from one run (ratios are measured within the run; wall-clock times vary with the machine):

1. [ratio] every method's time over the model passes it cannot avoid, measured next to it: one compiled
   forward+backward pass (input gradient) of the same 32 request images (8 images of 64x64, 32 requests)
   is the unit; VG and Seg-Grad-CAM need 1 unit, IG ``--ig-steps`` units, SG ``--sg-samples`` units, grid
   saliency ``--grid-steps`` units. Repetitions are interleaved (units, method, units, method...), each
   method's ratio is taken per repetition against the mean of the unit times around it, and the median,
   minimum and maximum over repetitions are printed, for wall-clock time and for the CPU time of this
   process (all threads; far less affected by other processes on a shared machine). Load on the machine
   is printed before and after.
2. with ``--throughput``: only requests per second of every method at batch 1 and batch 32, and the
   compiled grid saliency loop against the same loop run eagerly.
3. with ``--memory N``: only the peak resident memory of one process explaining ``N`` requests (8 images)
   with ``--methods`` (one method per process gives clean figures); two runs with different ``N`` give
   the memory per request that ``max_requests_per_call`` bounds.

Usage:
    python benchmarks/bench_engine.py [--repeats 5] [--short-repeats 15] [--grid-steps 100] [--width 16]
        [--methods vanilla_gradient,seg_grad_cam] [--throughput] [--memory N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any, Callable

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
    """``num_images`` random images and ``num_requests`` 16x16 square requests of random classes."""
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (num_images, SIZE, SIZE, 1)).astype(np.float32)
    masks = np.zeros((num_requests, SIZE, SIZE), np.float32)
    for i in range(num_requests):
        top, left = rng.integers(8, 40, size=2)
        masks[i, top:top + 16, left:left + 16] = 1
    return images, Requests(np.arange(num_requests) % num_images, rng.integers(0, CLASSES, num_requests), masks)


def unit_pass(model: keras.Model) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """One compiled forward+backward pass: the input gradient of a weighted sum of the model output."""

    @tf.function
    def run(batch: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            tape.watch(batch)
            score = tf.reduce_sum(model(batch, training=False) * weights)
        return tape.gradient(score, batch)

    return run


def seconds(function: Callable[[], Any]) -> float:
    """Wall-clock seconds of one call."""
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def wall_and_cpu(function: Callable[[], Any]) -> tuple[float, float]:
    """Wall-clock and CPU seconds (all threads of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def ratios(model: keras.Model, args: argparse.Namespace) -> None:
    images, requests = data(32, 8)
    request_images = tf.gather(tf.constant(images), requests.image_indices)
    weights = tf.constant(np.random.default_rng(1).uniform(0, 1, (32, SIZE, SIZE, CLASSES)).astype(np.float32))
    unit = unit_pass(model)
    methods = {
        "vanilla_gradient": (VanillaGradient(model), 1),
        f"integrated_gradients ({args.ig_steps} steps)": (IntegratedGradients(model, steps=args.ig_steps),
                                                          args.ig_steps),
        f"smooth_grad ({args.sg_samples} samples)": (SmoothGrad(model, samples=args.sg_samples), args.sg_samples),
        f"grid_saliency ({args.grid_steps} steps)": (GridSaliencyOptimizer(model, steps=args.grid_steps),
                                                     args.grid_steps),
        "seg_grad_cam (bottleneck)": (SegGradCAM(model, "bottleneck"), 1),
    }
    methods = {name: value for name, value in methods.items() if name.split()[0] in args.methods.split(",")}
    run_unit = lambda: unit(request_images, weights).numpy()  # noqa: E731
    run_unit()
    for explainer, _ in methods.values():
        explainer.explain(images, requests)  # trace and warm up
    measured: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": [], "seconds": []} for name in methods}
    unit_times = []
    for repeat in range(max(args.repeats, args.short_repeats)):
        for name, (explainer, passes) in methods.items():
            if repeat >= (args.short_repeats if passes == 1 else args.repeats):
                continue
            # Units are short: time several around each method call and average them.
            around = [wall_and_cpu(run_unit) for _ in range(args.unit_calls)]
            wall, cpu = wall_and_cpu(lambda: explainer.explain(images, requests))
            around += [wall_and_cpu(run_unit) for _ in range(args.unit_calls)]
            unit_wall = statistics.mean(t[0] for t in around)
            unit_cpu = statistics.mean(t[1] for t in around)
            unit_times.append(unit_wall)
            measured[name]["wall"].append(wall / (passes * unit_wall))
            measured[name]["cpu"].append(cpu / (passes * unit_cpu))
            measured[name]["seconds"].append(wall)
    print(f"[unit] one compiled forward+backward of 32 request images: median "
          f"{statistics.median(unit_times) * 1e3:.1f} ms wall-clock (min {min(unit_times) * 1e3:.1f}, max {max(unit_times) * 1e3:.1f})")
    for name, (_, passes) in methods.items():
        wall, cpu = measured[name]["wall"], measured[name]["cpu"]
        print(f"[ratio] {name:34s} time / ({passes:3d} x unit), {len(wall):2d} repetitions: wall-clock median "
              f"{statistics.median(wall):.3f} (min {min(wall):.3f}, max {max(wall):.3f}); CPU time median "
              f"{statistics.median(cpu):.3f} (min {min(cpu):.3f}, max {max(cpu):.3f}); "
              f"median {statistics.median(measured[name]['seconds']) * 1e3:.0f} ms")


def throughput(model: keras.Model, args: argparse.Namespace) -> None:
    methods = {
        f"grid_saliency ({args.grid_steps} steps)": GridSaliencyOptimizer(model, steps=args.grid_steps),
        "vanilla_gradient": VanillaGradient(model),
        f"integrated_gradients ({args.ig_steps} steps)": IntegratedGradients(model, steps=args.ig_steps),
        f"smooth_grad ({args.sg_samples} samples)": SmoothGrad(model, samples=args.sg_samples),
        "seg_grad_cam": SegGradCAM(model, "bottleneck"),
    }
    for name, explainer in methods.items():
        rates = []
        for batch in (1, 32):
            batch_images, batch_requests = data(batch, min(batch, 8))
            explainer.explain(batch_images, batch_requests)
            best = min(seconds(lambda: explainer.explain(batch_images, batch_requests)) for _ in range(args.repeats))
            rates.append(batch / best)
        print(f"[requests/s] {name:34s} batch 1: {rates[0]:9.2f}   batch 32: {rates[1]:9.2f}")
    images, requests = data(32, 8)
    short = GridSaliencyOptimizer(model, steps=args.eager_steps)
    short.explain(images, requests)
    compiled = min(seconds(lambda: short.explain(images, requests)) for _ in range(args.repeats))
    tf.config.run_functions_eagerly(True)
    try:
        eager = seconds(lambda: short.explain(images, requests))
    finally:
        tf.config.run_functions_eagerly(False)
    print(f"[compiled vs eager] {args.eager_steps} steps, 32 requests: compiled {compiled:.3f} s, "
          f"eager {eager:.3f} s, eager/compiled {eager / compiled:.2f}x")


def memory(model: keras.Model, args: argparse.Namespace) -> None:
    import resource

    images, requests = data(args.memory, 8)
    explainers = {
        "grid_saliency": lambda: GridSaliencyOptimizer(model, steps=2, max_requests_per_call=None),
        "vanilla_gradient": lambda: VanillaGradient(model, max_requests_per_call=None),
        "integrated_gradients": lambda: IntegratedGradients(model, steps=2, max_requests_per_call=None),
        "smooth_grad": lambda: SmoothGrad(model, samples=2, max_requests_per_call=None),
        "seg_grad_cam": lambda: SegGradCAM(model, "bottleneck", max_requests_per_call=None),
    }
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for name in args.methods.split(","):
        explainers[name]().explain(images, requests)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"[memory] {args.methods} on {args.memory} requests in one call: peak RSS {after:.0f} MiB "
          f"(before explaining {before:.0f} MiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="repetitions of IG, SG and grid saliency")
    parser.add_argument("--short-repeats", type=int, default=15, help="repetitions of VG and Seg-Grad-CAM")
    parser.add_argument("--unit-calls", type=int, default=3, help="unit passes timed before and after each method")
    parser.add_argument("--grid-steps", type=int, default=100)
    parser.add_argument("--ig-steps", type=int, default=25)
    parser.add_argument("--sg-samples", type=int, default=25)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--eager-steps", type=int, default=10)
    parser.add_argument("--methods", default="vanilla_gradient,integrated_gradients,smooth_grad,grid_saliency,"
                        "seg_grad_cam", help="comma-separated methods of the [ratio] table")
    parser.add_argument("--throughput", action="store_true", help="only print requests/s and eager/compiled")
    parser.add_argument("--memory", type=int, default=0, help="only measure peak memory for this many requests")
    args = parser.parse_args()

    model = unet(args.width)
    print(f"U-Net: {model.count_params():,} parameters, input 64x64x1, 11 classes; TF {tf.__version__}, "
          f"{os.cpu_count()} CPU core(s), GPU: {bool(tf.config.list_physical_devices('GPU'))}; "
          f"load average before: {os.getloadavg()[0]:.2f}")
    if args.memory:
        memory(model, args)
    elif args.throughput:
        throughput(model, args)
    else:
        ratios(model, args)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
