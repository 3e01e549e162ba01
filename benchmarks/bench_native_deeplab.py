"""The native Keras DeepLab against the frozen-graph wrapper on the same weights (full architectures).

Sections (all by default):

- speed: forward+backward of a class score (gradient of the summed class probability w.r.t. the
  images), both compiled with ``tf.function``: ``DeepLabModel`` (the frozen graph, optimised by
  grappler) vs ``DeepLabV3Plus`` in parity mode, and the native model with ``jit_compile=True``;
  medians of interleaved repetitions (wall clock and process CPU time), batch 1 and 4;
- parity: logits of the native model vs the export run op by op and vs the wrapper, labels vs
  ``SemanticPredictions``; ``any_size`` vs ``parity`` on images smaller than the crop;
- parameters: counts of both backbones' zoo models (21 classes) against the published ones.

Usage:

  .venv/bin/python benchmarks/bench_native_deeplab.py [--sections speed,parity,parameters]
      [--repeats 30] [--jit_repeats 5] [--crop_mobilenet 129] [--crop_xception 129]
      [--backbones mobilenet_v2,xception_65]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from deeplab_utils import DeepLabModel  # noqa: E402
from deeplab_utils.native import DeepLabV3Plus, assign_official_weights, from_mapping  # noqa: E402
from deeplab_utils.native.fixtures import build_official_graph  # noqa: E402
from deeplab_utils.native.reference import ExportRunner, parity_report  # noqa: E402
from deeplab_utils.testing import synthetic_scene  # noqa: E402

PUBLISHED = {"mobilenet_v2": "~2.1 M (DeepLabv3, MobileNetV2)",
             "xception_65": "~41 M (DeepLabv3+, Xception-65)"}
CLASS_ID = 3


def _native(fixture, backbone: str, **options) -> DeepLabV3Plus:
    model = DeepLabV3Plus(backbone, fixture.num_classes, **{"mode": "parity", "crop_size": fixture.crop_size,
                                                            **options})
    assign_official_weights(model, from_mapping(fixture.variables))
    return model


def _step(model, jit: bool = False):
    """Compiled gradient of the summed class probability (the tape sums a non-scalar target)."""
    def step(images):
        with tf.GradientTape() as tape:
            tape.watch(images)
            probabilities = model(images)[..., CLASS_ID]
        return tape.gradient(probabilities, images)
    return tf.function(step, jit_compile=jit)


def _median_times(cases: dict, repeats: int) -> dict[str, tuple[float, float]]:
    """Median wall-clock and process CPU time (ms) per case. On a machine shared with other jobs the CPU
    time, the work the process itself does, is the steadier of the two."""
    wall: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for step, images in cases.values():
        for _ in range(2):
            step(images).numpy()
    for repeat in range(repeats):
        order = list(cases.items())
        for name, (step, images) in order[::-1] if repeat % 2 else order:
            start, start_cpu = time.perf_counter(), time.process_time()
            step(images).numpy()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return {name: (1000 * float(np.median(wall[name])), 1000 * float(np.median(cpu[name])))
            for name in cases}


def speed(backbone: str, fixture, repeats: int, jit_repeats: int) -> None:
    wrapper, native = DeepLabModel(fixture.graph_def), _native(fixture, backbone)
    for batch in (1, 4):
        images = tf.constant(np.stack([synthetic_scene(*fixture.crop_size, seed=s) for s in range(batch)])
                             .astype(np.float32))
        cases = {"graph": (_step(wrapper), images), "native": (_step(native), images)}
        times = _median_times(cases, repeats)
        (graph, graph_cpu), (ours, ours_cpu) = times["graph"], times["native"]
        jit, jit_cpu = _median_times({"jit": (_step(native, jit=True), images)}, jit_repeats)["jit"]
        print(f"  batch {batch}: wall (CPU) ms: graph wrapper {graph:.1f} ({graph_cpu:.1f}) | "
              f"native {ours:.1f} ({ours_cpu:.1f}), ratio {ours / graph:.3f} ({ours_cpu / graph_cpu:.3f}) | "
              f"native jit_compile {jit:.1f} ({jit_cpu:.1f}), "
              f"ratio {jit / graph:.2f} ({jit_cpu / graph_cpu:.2f})")


def parity(backbone: str, fixture) -> None:
    crop = fixture.crop_size
    sizes = [crop, (crop[0] // 2 + 3, crop[1] - 4), (7, crop[1]), (1, 1)]
    images = [synthetic_scene(h, w, seed=s) for s, (h, w) in enumerate(sizes)]
    images.append(np.random.default_rng(0).integers(0, 256, (*crop, 3), dtype=np.uint8))
    model = _native(fixture, backbone, output="logits")
    for optimize in (False, True):
        with ExportRunner(fixture.graph_def, optimize=optimize) as runner:
            report = parity_report(model, runner, images)
        print(f"  vs the export run {'after grappler' if optimize else 'op by op'}: max |logit difference| "
              f"{report['max_logit_difference']:.2e} (logits up to {report['max_logit']:.1f}), "
              f"label mismatches {report['mismatches']} of {report['pixels']} pixels")
    any_size = _native(fixture, backbone, output="logits", mode="any_size", crop_size=None)
    smaller = [synthetic_scene(crop[0] * 2 // 3, crop[1] * 3 // 4, seed=10 + s) for s in range(4)]
    differing, total, worst = 0, 0, 0.0
    for image in smaller:
        a, b = (np.asarray(m(image[None].astype(np.float32)))[0] for m in (any_size, model))
        differing += int(np.count_nonzero(a.argmax(-1) != b.argmax(-1)))
        total += a.shape[0] * a.shape[1]
        worst = max(worst, float(np.abs(a - b).max()))
    print(f"  any_size vs parity on {len(smaller)} images of {smaller[0].shape[0]}x{smaller[0].shape[1]} "
          f"(crop {crop[0]}x{crop[1]}): labels differ on {differing / total:.1%} of pixels, "
          f"max |logit difference| {worst:.2f}")


def parameters() -> None:
    for backbone in ("mobilenet_v2", "xception_65"):
        model = DeepLabV3Plus(backbone, 21)
        trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
        print(f"  {backbone}: {model.count_params():,} variables' values ({trainable:,} trainable, the rest "
              f"batch-norm moving statistics); published {PUBLISHED[backbone]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default="speed,parity,parameters")
    parser.add_argument("--backbones", default="mobilenet_v2,xception_65")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--jit_repeats", type=int, default=5)
    parser.add_argument("--crop_mobilenet", type=int, default=129, help="a multiple of 8 plus 1")
    parser.add_argument("--crop_xception", type=int, default=129, help="a multiple of 16 plus 1")
    arguments = parser.parse_args()
    sections = arguments.sections.split(",")
    devices = [device.device_type for device in tf.config.list_physical_devices()]
    print(f"TensorFlow {tf.__version__}, devices {devices}")
    if "parameters" in sections:
        print("parameters (21 classes):")
        parameters()
    crops = (("mobilenet_v2", arguments.crop_mobilenet), ("xception_65", arguments.crop_xception))
    for backbone, crop in crops:
        if backbone not in arguments.backbones.split(","):
            continue
        if not {"speed", "parity"} & set(sections):
            break
        fixture = build_official_graph(backbone, crop_size=(crop, crop), num_classes=21, seed=1)
        print(f"{backbone}, crop {crop}x{crop}, 21 classes:")
        if "parity" in sections:
            parity(backbone, fixture)
        if "speed" in sections:
            print(f"  forward+backward, median of {arguments.repeats} interleaved repetitions "
                  f"({arguments.jit_repeats} for jit_compile):")
            speed(backbone, fixture, arguments.repeats, arguments.jit_repeats)


if __name__ == "__main__":
    main()
