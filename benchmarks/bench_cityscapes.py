"""Speed and memory of the Cityscapes statistics (deeplab_utils.cityscapes), on a DeepLab fixture.

Prints, from one run (ratios are measured within the run; wall-clock times vary with the machine):

1. optimisation overhead: time(one batch of requests through BatchExplainer, `steps` SGD steps) /
   time(`steps` plain forward+backward passes of the same batch, one after the other: a compiled loop of
   input gradients of the class score inside the requests, each pass starting when the previous one
   ended, as the optimiser's steps must; the ratio to a loop whose passes TensorFlow may overlap is
   printed too), on the MobileNetV2 DeepLab fixture export (`--architecture`:
   the miniature fixture of the tests, or the full official MobileNetV2 architecture with random weights,
   whose forward+backward costs what the real model's does at that crop);
2. the share of per-image work outside the optimisation (reading, prediction, requests, histograms,
   baseline, writing records and PNGs) in a whole explain run over the fixture data set, traces warm:
   1 - time(inside BatchExplainer.explain) / wall time; finishing (histograms, baseline, files) runs on a
   background thread, and its own time is printed too;
3. requests per second at several batch sizes;
4. with --memory: peak memory per request at 1024x2048 with the real MobileNetV2 backbone
   (keras.applications, output stride 32, 19-class head), from the peak RSS of fresh processes running
   batches of 1 and 2 requests (CPU; on a GPU use deeplab_utils.cityscapes.automatic_batch_size).

Usage:
    python benchmarks/bench_cityscapes.py [--repeats 3] [--steps 80] [--batch 8] [--crop 129]
        [--architecture miniature|full] [--sections overhead,share,rate] [--memory]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from deeplab_utils import DeepLabModel  # noqa: E402
from deeplab_utils.cityscapes import (BatchExplainer, Protocol, build_requests, claim_run,  # noqa: E402
                                      explain_examples, list_examples, optimizer_settings, predict, read_example,
                                      run_settings)
from deeplab_utils.cityscapes import explainer as explainer_module  # noqa: E402
from deeplab_utils.cityscapes import job as job_module  # noqa: E402
from deeplab_utils.cityscapes.testing import write_cityscapes_fixture  # noqa: E402
from deeplab_utils.native.fixtures import build_official_graph  # noqa: E402
from deeplab_utils.testing import build_frozen_graph  # noqa: E402
from grid_saliency_tf import GridSaliencyOptimizer  # noqa: E402

MEMORY_SCRIPT = """
import resource, sys
import numpy as np, keras, tensorflow as tf
from deeplab_utils.cityscapes import optimizer_settings
from grid_saliency_tf import GridSaliencyOptimizer
batch, height, width = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
inputs = keras.Input((height, width, 3))
backbone = keras.applications.MobileNetV2(input_shape=(height, width, 3), include_top=False, weights=None)
scaled = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
logits = keras.layers.Conv2D(19, 1)(backbone(scaled))
outputs = keras.layers.Softmax()(keras.layers.UpSampling2D(32, interpolation="bilinear")(logits))
model = keras.Model(inputs, outputs)
optimizer = GridSaliencyOptimizer(model, **optimizer_settings({"steps": 2}))
mask = np.zeros((batch, height, width), np.float32)
mask[:, height // 3: height // 2, width // 3: width // 2] = 1.0
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
optimizer.explain_tensors(tf.fill([batch, height, width, 3], 127.0), tf.range(batch), tf.zeros([batch], tf.int32),
                          tf.constant(mask))
print("PEAK", before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _fixture_model(crop: int, architecture: str = "miniature") -> DeepLabModel:
    """The MobileNetV2 DeepLab export: the miniature fixture, or the full official architecture."""
    if architecture == "full":
        fixture = build_official_graph("mobilenet_v2", crop_size=(crop, crop), num_classes=19, seed=1)
    else:
        fixture = build_frozen_graph("mobilenet_v2", crop_size=(crop, crop), num_classes=19, seed=1)
    return DeepLabModel(fixture.graph_def)


def _requests(model, examples, protocol, count):
    images, class_ids, masks = [], [], []
    for example in examples:
        image, truth = read_example(example)
        labels = predict(model, image).argmax(-1)
        for group in build_requests(labels, truth, protocol):
            for index in range(len(group)):
                images.append(image)
                class_ids.append(group.class_id)
                masks.append(group.requests.masks[index])
    if not images:
        raise SystemExit("the fixture model predicts no request; change --crop or the fixture")
    take = [i % len(images) for i in range(count)]
    return (np.stack([images[i] for i in take]).astype(np.float32), np.array([class_ids[i] for i in take], np.int32),
            np.stack([masks[i] for i in take]).astype(np.float32))


def _gradient_loop(model, steps: int, parallel_iterations: int):
    """A compiled loop of ``steps`` input gradients of the class score inside the requests.

    With ``parallel_iterations=1`` every pass starts after the previous one ended, as the optimiser's steps
    must (step t+1 perturbs the image with the mask step t computed). With more, TensorFlow overlaps
    independent iterations (the next forward pass runs beside the previous backward pass), which on a CPU
    whose two cores one small pass does not fill is faster than ``steps`` passes one after the other.
    """

    @tf.function
    def loop(images, class_ids, masks):
        gradient_sum = tf.zeros_like(images)
        for _ in tf.range(steps):
            tf.autograph.experimental.set_loop_options(parallel_iterations=parallel_iterations)
            with tf.GradientTape() as tape:
                tape.watch(images)
                maps = tf.gather(model(images), class_ids, axis=-1, batch_dims=1)
                score = tf.reduce_sum(maps * masks)
            gradient_sum += tape.gradient(score, images)
        return gradient_sum

    return loop


def overhead(model, batch, steps, repeats):
    """Time of BatchExplainer on one batch against ``steps`` forward+backward passes of the same batch.

    Two floors, timed interleaved with the explanation: ``floor`` runs the passes one after the other
    (the bar's denominator: an optimisation cannot start step t+1 before step t gave its mask), and
    ``floor_overlapped`` lets TensorFlow overlap independent passes (TensorFlow's default for a loop whose
    iterations do not depend on each other; the figure this benchmark reported before session 5).
    """
    images, class_ids, masks = batch
    optimizer = GridSaliencyOptimizer(model, **optimizer_settings({"steps": steps}))
    explainer = BatchExplainer(optimizer, batch_size=len(class_ids))
    floors = {"floor": _gradient_loop(model, steps, 1), "floor_overlapped": _gradient_loop(model, steps, 10)}
    arguments = (tf.constant(images), tf.constant(class_ids), tf.constant(masks))
    explainer.explain(images, class_ids, masks)
    for floor in floors.values():
        floor(*arguments).numpy()
    times = {"explain": [], **{key: [] for key in floors}}
    for _ in range(repeats):
        start = time.perf_counter()
        explainer.explain(images, class_ids, masks)
        times["explain"].append(time.perf_counter() - start)
        for key, floor in floors.items():
            start = time.perf_counter()
            floor(*arguments).numpy()
            times[key].append(time.perf_counter() - start)
    return {key: float(np.median(value)) for key, value in times.items()}


def outside_share(model, examples, protocol, steps, batch):
    """Share of an explain run's wall time spent outside BatchExplainer.explain (traces warmed first)."""
    optimizer = GridSaliencyOptimizer(model, **optimizer_settings({"steps": steps}))
    spent = {"optimisation": 0.0, "finishing": 0.0}
    original, original_finish = explainer_module.BatchExplainer.explain, job_module._Runner.finish

    def timer(function, key):
        def timed(self, *args):
            start = time.perf_counter()
            try:
                return function(self, *args)
            finally:
                spent[key] += time.perf_counter() - start
        return timed

    with tempfile.TemporaryDirectory() as folder:
        settings = run_settings(protocol, optimizer.get_config(), model_name="fixture", split="val")
        claim_run(f"{folder}/warm", settings)
        explain_examples(model, examples[:1], f"{folder}/warm", protocol=protocol, optimizer=optimizer,
                         batch_size=batch)
        explainer_module.BatchExplainer.explain = timer(original, "optimisation")
        job_module._Runner.finish = timer(original_finish, "finishing")
        try:
            claim_run(f"{folder}/run", settings)
            start = time.perf_counter()
            summary = explain_examples(model, examples, f"{folder}/run", protocol=protocol, optimizer=optimizer,
                                       batch_size=batch)
            total = time.perf_counter() - start
        finally:
            explainer_module.BatchExplainer.explain, job_module._Runner.finish = original, original_finish
    return {"total": total, **spent, "share_outside": 1.0 - spent["optimisation"] / total, **summary}


def requests_per_second(model, batch, steps, sizes):
    images, class_ids, masks = batch
    optimizer = GridSaliencyOptimizer(model, **optimizer_settings({"steps": steps}))
    rates = {}
    for size in sizes:
        explainer = BatchExplainer(optimizer, batch_size=size)
        explainer.explain(images[:size], class_ids[:size], masks[:size])
        start = time.perf_counter()
        explainer.explain(images, class_ids, masks)
        rates[size] = len(class_ids) / (time.perf_counter() - start)
    return rates


def peak_memory(batch, height, width):
    env = {**os.environ, "PYTHONPATH": os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(batch), str(height), str(width)],
                            capture_output=True, text=True, env=env, check=False)
    line = [line for line in result.stdout.splitlines() if line.startswith("PEAK")]
    if not line:
        raise SystemExit(result.stderr[-2000:])
    before, after = (int(value) for value in line[0].split()[1:])
    return before * 1024, after * 1024   # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--crop", type=int, default=129)
    parser.add_argument("--architecture", choices=("miniature", "full"), default="miniature",
                        help="the miniature MobileNetV2 export fixture or the full official architecture")
    parser.add_argument("--sections", default="overhead,share,rate",
                        help="comma-separated among overhead (1), share (2), rate (3)")
    parser.add_argument("--memory", action="store_true", help="also measure peak memory at --memory_size")
    parser.add_argument("--memory_size", type=int, nargs=2, default=(1024, 2048))
    arguments = parser.parse_args()
    sections = set(arguments.sections.split(","))
    if not sections <= {"overhead", "share", "rate"}:
        parser.error(f"--sections must name overhead, share or rate; received {arguments.sections!r}")
    print(f"TensorFlow {tf.__version__}; devices: {[d.name for d in tf.config.list_logical_devices()]}; "
          f"{os.cpu_count()} CPU cores")
    model = _fixture_model(arguments.crop, arguments.architecture)
    print(f"model: MobileNetV2 DeepLab export, {arguments.architecture} architecture, crop {arguments.crop}")
    with tempfile.TemporaryDirectory() as root:
        write_cityscapes_fixture(root)
        examples = list_examples(root)
        protocol = Protocol()
        batch = _requests(model, examples, protocol, 16)
        first = tuple(array[: arguments.batch] for array in batch)
        if "overhead" in sections:
            times = overhead(model, first, arguments.steps, arguments.repeats)
            print(f"1. batch of {arguments.batch} requests, {arguments.steps} steps (median of {arguments.repeats}): "
                  f"explain {times['explain']:.2f} s, {arguments.steps} x forward+backward one after the other "
                  f"{times['floor']:.2f} s, ratio {times['explain'] / times['floor']:.3f}; overlapped "
                  f"{times['floor_overlapped']:.2f} s, ratio {times['explain'] / times['floor_overlapped']:.3f}")
        if "share" in sections:
            share = outside_share(model, examples, protocol, arguments.steps, arguments.batch)
            print(f"2. explain run of {share['images']} images ({share['requests']} requests): {share['total']:.1f} s, "
                  f"optimisation {share['optimisation']:.1f} s, outside it {100 * share['share_outside']:.1f} % "
                  f"(finishing images on the background thread: {share['finishing']:.1f} s, overlapped)")
        if "rate" in sections:
            rates = requests_per_second(model, batch, arguments.steps, (1, 4, 16))
            print("3. requests/s: " + ", ".join(f"batch {size}: {rate:.2f}" for size, rate in rates.items()))
    if arguments.memory:
        height, width = arguments.memory_size
        one, two = peak_memory(1, height, width), peak_memory(2, height, width)
        per_request = two[1] - one[1]
        print(f"4. peak RSS at {height}x{width}, MobileNetV2 backbone: batch 1 {one[1] / 2**30:.2f} GiB, "
              f"batch 2 {two[1] / 2**30:.2f} GiB (after building the model: {one[0] / 2**30:.2f} GiB); "
              f"per request {per_request / 2**30:.2f} GiB")
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
