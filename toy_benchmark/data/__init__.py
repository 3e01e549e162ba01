"""The data wing of the toy benchmark: MNIST digits on textures with an induced context bias.

Paper Sec. 4.1 and supplement S1.1; every open choice is pinned down in TOY_DATASET_SPEC.md. The path of
the data: `variant` (what a dataset is) -> `mnist`, `textures` (the sources) -> `philox`, `generator`
(sample i as a pure function) -> `streaming` (`tf.data`) or `storage` (sharded files) -> `previews`.
The bundled `mnist_10k.npz` lives in this folder (provenance in README.md).
"""
