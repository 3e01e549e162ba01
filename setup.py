"""Packaging for grid-saliency-tf.

Dependencies are pinned to what the test suite runs against: TensorFlow 2.21 with Keras 3.
"""

from setuptools import find_packages, setup

setup(
    name="grid-saliency-tf",
    version="0.1.0",
    description=(
        "Grid saliency, context explanations and Seg-Grad-CAM for semantic segmentation "
        "networks in TensorFlow/Keras 3."
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10,<3.13",
    packages=find_packages(include=["grid_saliency_tf*", "deeplab_utils*", "toy_benchmark*"]),
    include_package_data=True,
    package_data={"toy_benchmark.data": ["*.npz", "*.md"]},
    install_requires=[
        "tensorflow==2.21.*",
        "keras>=3.10,<4",
        "numpy>=1.26",
        "opencv-python-headless>=4.8",
        "absl-py>=2.0",
        "tqdm>=4.60",
        "pycocotools>=2.0.7",
    ],
    extras_require={
        "test": ["pytest>=8", "pytest-xdist>=3.5", "matplotlib>=3.8"],
        "viz": ["matplotlib>=3.8"],
    },
    entry_points={
        "console_scripts": [
            "toy-generate = toy_benchmark.generate_main:run",
            "toy-train = toy_benchmark.train_main:run",
            "toy-evaluate = toy_benchmark.evaluate_main:run",
            "toy-sweep = toy_benchmark.sweep_main:run",
            "deeplab-explain = deeplab_utils.explain_main:run",
            "deeplab-cityscapes = deeplab_utils.cityscapes_main:run",
            "deeplab-coco = deeplab_utils.coco_main:run",
        ]
    },
    classifiers=[
        "Programming Language :: Python :: 3.11",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
