"""Overhead of deeplab_utils.DeepLabModel against calling the pruned graph function directly.

Per forward+backward (gradient of a class score w.r.t. the input), both compiled with tf.function:

- direct: the concrete function pruned from the float input (``sub_7:0``) to the logits, fed an image
  that is already padded and scaled, gradient of the summed class logit;
- wrapper logits: ``model.logits(images)`` on the raw image (pads, scales, calls the graph, crops);
- wrapper probabilities: ``model(images)`` (the same plus the softmax the engine consumes).

Ratios are medians of interleaved repetitions within one run. Also reported: a batch of 4 through the
batched wrapper against 4 direct calls. Usage:

  .venv/bin/python benchmarks/bench_deeplab_wrapper.py [--repeats 200] [--crop 65]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from deeplab_utils import DeepLabModel, FrozenGraph  # noqa: E402
from deeplab_utils.testing import build_frozen_graph, synthetic_scene  # noqa: E402


def _timed(step, argument) -> float:
    start = time.perf_counter()
    result = step(argument)
    result.numpy()
    return time.perf_counter() - start


def bench(backbone: str, crop: int, repeats: int) -> dict[str, float]:
    fixture = build_frozen_graph(backbone, crop_size=(crop, crop), num_classes=19, seed=1)
    model = DeepLabModel(fixture.graph_def)
    direct_fn = FrozenGraph(fixture.graph_def).function([fixture.float_input_name], [fixture.logits_name])
    class_id = 3

    @tf.function
    def direct(inputs):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            score = tf.reduce_sum(direct_fn(inputs)[0][..., class_id])
        return tape.gradient(score, inputs)

    @tf.function
    def direct_batch(inputs):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            score = tf.add_n([tf.reduce_sum(direct_fn(inputs[i: i + 1])[0][..., class_id]) for i in range(4)])
        return tape.gradient(score, inputs)

    def wrapped(call):
        @tf.function
        def step(images):
            with tf.GradientTape() as tape:
                tape.watch(images)
                score = tf.reduce_sum(call(images)[..., class_id])
            return tape.gradient(score, images)
        return step

    wrapper_logits, wrapper_probabilities = wrapped(model.logits), wrapped(model)
    images = tf.constant(synthetic_scene(crop, crop, seed=0)[None].astype(np.float32))
    inputs = model.preprocess(images)
    batch = tf.constant(np.stack([synthetic_scene(crop, crop, seed=s) for s in range(4)]).astype(np.float32))
    batch_inputs = model.preprocess(batch)
    cases = {
        "direct": (direct, inputs),
        "wrapper_logits": (wrapper_logits, images),
        "wrapper_probabilities": (wrapper_probabilities, images),
        "direct_x4": (direct_batch, batch_inputs),
        "wrapper_batch4": (wrapper_probabilities, batch),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for step, argument in cases.values():
        for _ in range(5):
            _timed(step, argument)
    for repeat in range(repeats):
        order = list(cases.items())
        if repeat % 2:
            order.reverse()
        for name, (step, argument) in order:
            times[name].append(_timed(step, argument))
    medians = {name: float(np.median(values)) for name, values in times.items()}
    return {
        **{f"{name}_ms": 1000 * value for name, value in medians.items()},
        "ratio_logits": medians["wrapper_logits"] / medians["direct"],
        "ratio_probabilities": medians["wrapper_probabilities"] / medians["direct"],
        "ratio_batch4": medians["wrapper_batch4"] / medians["direct_x4"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--crop", type=int, default=65, help="crop size (a multiple of 16 plus 1)")
    arguments = parser.parse_args()
    print(f"forward+backward, crop {arguments.crop}x{arguments.crop}, median of {arguments.repeats} "
          "interleaved repetitions (shared machine: figures are under load)")
    for backbone in ("mobilenet_v2", "xception_65"):
        result = bench(backbone, arguments.crop, arguments.repeats)
        print(f"{backbone:13s} direct {result['direct_ms']:7.2f} ms | wrapper logits "
              f"{result['wrapper_logits_ms']:7.2f} ms (x{result['ratio_logits']:.3f}) | wrapper probabilities "
              f"{result['wrapper_probabilities_ms']:7.2f} ms (x{result['ratio_probabilities']:.3f}) | batch 4: "
              f"4 direct calls {result['direct_x4_ms']:7.2f} ms, wrapper {result['wrapper_batch4_ms']:7.2f} ms "
              f"(x{result['ratio_batch4']:.3f})")


if __name__ == "__main__":
    main()
