"""The tf.data input pipelines: a seeded shuffle per epoch for training, fixed batches for the test pass.

Training images stay uint8 in memory (binarized first for the Bernoulli likelihood) and become float32
model inputs inside the compiled step, which keeps the pipeline light. On several devices the global
batches are handed to `strategy.experimental_distribute_dataset`, which splits each one across the
replicas; every image then carries its position in its global batch and that batch's size, so that its
noise and the loss's divisor are those of one device, whatever the split.

A conditional model's batches are (images, labels); `to_inputs` appends the one-hot label to the image as
constant channels (objective.split_condition takes them apart again).
"""

from __future__ import annotations

import numpy as np

from vaestudio.core.architecture import Architecture

TEST_BATCH = 1000
PREFETCH = 2  # batches made ahead of the step that needs them (the images are in memory: 2 keep the step fed)


class InputFormat:
    """What a batch looks like for one architecture and batch size, without any data: enough to build and
    compile the training steps before the data has loaded (core.tf.prepare)."""

    def __init__(self, architecture: Architecture, batch_size: int):
        import tensorflow as tf

        self.tf = tf
        self.architecture = architecture
        self.batch_size = batch_size

    def placeholder_iterator(self):
        """An iterator over blank batches of the training batches' element spec (one device): a compiled
        step traced on it is the one the real batches use."""
        tf = self.tf
        arch = self.architecture
        images = np.zeros((1, *arch.image_shape), np.uint8)
        element = (images, np.zeros(1, np.int32)) if arch.classes else images
        return iter(tf.data.Dataset.from_tensor_slices(element).repeat().batch(self.batch_size))

    def to_inputs(self, batch):
        """uint8 batch -> float32 model inputs in [0, 1] (inside a compiled function); a conditional
        model's (images, labels) -> the images with the one-hot labels as channels after theirs."""
        tf = self.tf
        classes = self.architecture.classes
        images, labels = batch if classes else (batch, None)
        x = tf.cast(images, tf.float32)
        x = x if self.architecture.binarized else x / 255.0
        if not classes:
            return x
        condition = tf.one_hot(tf.cast(labels, tf.int32), classes, dtype=tf.float32)
        planes = tf.broadcast_to(condition[:, None, None, :], tf.concat([tf.shape(x)[:3], [classes]], 0))
        return tf.concat([x, planes], axis=3)


class InputPipeline(InputFormat):
    """Train and test batches of a Dataset for one architecture and batch size."""

    def __init__(self, dataset, architecture: Architecture, batch_size: int, seed: int, strategy=None):
        super().__init__(architecture, batch_size)
        tf = self.tf
        self.strategy = strategy
        self.seed = seed
        train = _model_bytes(dataset.train_images, architecture)
        test = _model_bytes(dataset.test_images, architecture)
        if architecture.classes:
            train = (train, _labels(dataset.train_labels, len(train), architecture.classes))
            test = (test, _labels(dataset.test_labels, len(test), architecture.classes))
        self.train_count = len(dataset.train_images)
        self.train = tf.data.Dataset.from_tensor_slices(train)
        self.test = _without_autotuning(tf.data.Dataset.from_tensor_slices(test).batch(TEST_BATCH).prefetch(PREFETCH))

    def epoch_iterator(self, epoch: int, skip: int = 0):
        """An iterator over `epoch_batches(epoch, skip)` (split across the replicas on several devices)."""
        batches = self.epoch_batches(epoch, skip)
        return iter(batches if self.strategy is None else self.strategy.experimental_distribute_dataset(batches))

    def epoch_batches(self, epoch: int, skip: int = 0):
        """The training batches of `epoch`: a fresh shuffle for each epoch, seeded by (seed, epoch) so a resumed
        run sees the same order; `skip` batches already trained on before an interruption. On several devices
        its elements are (images, positions in the global batch, the global batch's size for each image)."""
        shuffled = self.train.shuffle(self.train_count, seed=self.seed * 10_007 + epoch,
                                      reshuffle_each_iteration=False)
        batches = shuffled.batch(self.batch_size).skip(skip)
        if self.strategy is not None:
            batches = batches.map(_with_positions)
        return _without_autotuning(batches.prefetch(PREFETCH))


def _without_autotuning(dataset):
    """`dataset` without tf.data's autotuning. Its tuning thread made freeing a used iterator wait for it:
    0.28-4.8 s at 8 of 36 epoch ends (fast preset, 9600 images; a 2-core Zen 4), the training
    thread blocked in tf.data's thread-pool teardown meanwhile. In-memory images need no tuning."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def _with_positions(*batch):
    import tensorflow as tf

    element = batch[0] if len(batch) == 1 else batch
    size = tf.shape(batch[0])[0]
    return element, tf.range(size, dtype=tf.int32), tf.fill([size], size)


def _labels(labels, count: int, classes: int) -> np.ndarray:
    """A conditional model's labels as int32 (count,); ValueError when missing or outside 0..classes-1."""
    labels = None if labels is None else np.asarray(labels)
    if labels is None or labels.shape != (count,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"a conditional model needs one whole-number label per image ({count})")
    if count and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(f"a conditional model's labels must be between 0 and {classes - 1}")
    return labels.astype(np.int32)


def _model_bytes(images: np.ndarray, architecture: Architecture) -> np.ndarray:
    """uint8 (N, H, W, C): binarized to 0/1 for the Bernoulli likelihood, grey levels 0..255 otherwise."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    expected = architecture.image_shape
    if images.shape[1:] != expected:
        raise ValueError(f"images of shape {images.shape[1:]} do not fit a model of {architecture.describe()}")
    if architecture.binarized:
        return (images > 127).astype(np.uint8)
    return np.ascontiguousarray(images, dtype=np.uint8)
