"""Speed of the COCO architecture comparison (deeplab_utils.coco) on its fixtures: the Cityscapes bars.

Prints, from one run on the COCO-format fixture (``deeplab_utils.coco.testing.write_coco_fixture``) with
two DeepLab export fixtures of 21 VOC classes (MobileNetV2 layout, random weights, seeds 1 and 2) as the
compared models:

1. the share of per-image work outside the optimisation in ``explain_images`` (one tf.data read per
   image for both models, annotation drawing, two predictions, requests, histograms, records, PNGs):
   1 - time(inside BatchExplainer.explain) / wall time, traces warmed on one image first;
2. how many times each image was decoded (must be once for both models).

The optimisation overhead itself (time per batch / forward+backward passes) is the Cityscapes one: both
jobs run the same ``BatchExplainer`` (``benchmarks/bench_cityscapes.py``, section 1).

Usage:
    python benchmarks/bench_coco.py [--steps 80] [--batch 8] [--crop 129] [--images 0] [--height 64]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from deeplab_utils import DeepLabModel  # noqa: E402
from deeplab_utils.cityscapes import explainer as explainer_module  # noqa: E402
from deeplab_utils.cityscapes.job import optimizer_settings  # noqa: E402
from deeplab_utils.coco import job as job_module  # noqa: E402
from deeplab_utils.coco.dataset import load_dataset  # noqa: E402
from deeplab_utils.coco.job import ComparedModel, explain_images  # noqa: E402
from deeplab_utils.coco.protocol import CocoProtocol  # noqa: E402
from deeplab_utils.coco.testing import SCENES, write_coco_fixture  # noqa: E402
from deeplab_utils.testing import build_frozen_graph  # noqa: E402
from grid_saliency_tf import GridSaliencyOptimizer  # noqa: E402


def _models(crop: int, steps: int) -> list[ComparedModel]:
    models = []
    for seed in (1, 2):
        model = DeepLabModel(build_frozen_graph("mobilenet_v2", crop_size=(crop, crop), num_classes=21,
                                                seed=seed).graph_def)
        models.append(ComparedModel(f"fixture{seed}", model,
                                    GridSaliencyOptimizer(model, **optimizer_settings({"steps": steps}))))
    return models


def outside_share(models, dataset, batch: int) -> dict[str, float]:
    """Wall time of ``explain_images`` over `dataset` and the part inside ``BatchExplainer.explain``."""
    spent = {"optimisation": 0.0, "reads": 0, "reading": 0.0}
    original_explain, original_read = explainer_module.BatchExplainer.explain, job_module._read

    def explain(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return original_explain(self, *args, **kwargs)
        finally:
            spent["optimisation"] += time.perf_counter() - start

    def read(images):
        iterator = original_read(images)
        while True:
            start = time.perf_counter()
            item = next(iterator, None)
            spent["reading"] += time.perf_counter() - start
            if item is None:
                return
            spent["reads"] += 1
            yield item

    protocol = CocoProtocol()
    with tempfile.TemporaryDirectory() as folder:
        warm = dataset.shard(len(dataset.images), 0)
        explain_images(models, warm, f"{folder}/warm", protocol=protocol, batch_size=batch)
        explainer_module.BatchExplainer.explain, job_module._read = explain, read
        try:
            start = time.perf_counter()
            summary = explain_images(models, dataset, f"{folder}/run", protocol=protocol, batch_size=batch)
            total = time.perf_counter() - start
        finally:
            explainer_module.BatchExplainer.explain, job_module._read = original_explain, original_read
    return {"total": total, **spent, "share_outside": 1.0 - spent["optimisation"] / total, **summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--crop", type=int, default=129)
    parser.add_argument("--images", type=int, default=0,
                        help="fixture images (its scenes repeated); 0: the fixture's default six")
    parser.add_argument("--height", type=int, default=64, help="fixture image height (width twice that)")
    arguments = parser.parse_args()
    if arguments.images < 0 or arguments.images == 1:
        parser.error(f"--images must be 0 or at least 2; received {arguments.images}")
    scenes = {} if not arguments.images else {"scenes": [list(SCENES)[i % len(SCENES)] for i in range(arguments.images)]}
    with tempfile.TemporaryDirectory() as root:
        paths = write_coco_fixture(root, **scenes, height=arguments.height, width=2 * arguments.height)
        dataset = load_dataset(paths["images"], paths["instances"], paths["stuff"])
        models = _models(arguments.crop, arguments.steps)
        share = outside_share(models, dataset, arguments.batch)
    print(f"1. explain run of {share['images']} images x {len(models)} models ({share['requests']} requests, "
          f"{arguments.steps} steps, batch {arguments.batch}): {share['total']:.1f} s, optimisation "
          f"{share['optimisation']:.1f} s, outside it {100 * share['share_outside']:.1f} % (of which waiting for "
          f"the tf.data image reader {share['reading']:.1f} s)")
    print(f"2. image decodes: {share['reads']} for {share['images']} images and {len(models)} models")


if __name__ == "__main__":
    main()
