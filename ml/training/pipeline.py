"""What the fit loop trains on: the split, the cached arrays, and the augmented batches.

`load_data` makes the group-aware split of Kaggle Training/ plus the IXI people of the
person split and returns cached head crops (ml.data.samples); `augmented_batches` draws the
domain randomisation (ml.image.augment) and the synthetic lesions (ml.training.synthetic)
for every batch; `train_dataset` / `make_dataset` wrap them in tf.data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from numpy.typing import NDArray

from ml import CLASS_NAMES
from ml.data.duplicates import load_groups, run_audit
from ml.data.samples import Sample, load_crops, load_prepared_paths
from ml.data.sources import (
    Item,
    default_external,
    ixi_items,
    kaggle_items,
    source_weights,
    split_people,
)
from ml.data.splits import group_split, groups_for
from ml.image.augment import AugmentConfig, randomize
from ml.image.preprocess import finish_uint8
from ml.training.adversary import CLASS_OUTPUT, SOURCE_OUTPUT, SOURCES, source_indices
from ml.training.config import TrainConfig
from ml.training.synthetic import add_lesion


@dataclass
class TrainData:
    """The arrays a run trains and validates on, and where each image came from."""

    train: list[Item]
    val: list[Item]
    crops: np.ndarray  # (n, size, size) uint8 head crops of the training images
    masks: np.ndarray  # (n, size, size) bool head masks of those crops
    x_train: np.ndarray  # the same images prepared as inference does (no augmentation)
    x_val: np.ndarray
    y_train: np.ndarray
    y_val: np.ndarray


def training_items(cfg: TrainConfig, samples: list[Sample]) -> tuple[list[Item], list[Item]]:
    """Kaggle's group-aware split plus, if asked, the IXI people of the person split."""
    train_s, val_s = split_training(cfg, samples)
    audit = Path(cfg.audit_json)
    group_of = load_groups(audit) if audit.exists() else {}
    train = kaggle_items(cfg.data, [(s.relpath, s.label) for s in train_s], group_of)
    val = kaggle_items(cfg.data, [(s.relpath, s.label) for s in val_s], group_of)
    if cfg.use_ixi:
        parts = split_people(ixi_items(cfg.external or default_external(cfg.data)))
        train, val = train + parts["train"], val + parts["validation"]
    if cfg.exclude_source:
        train = [i for i in train if i.source != cfg.exclude_source]
        val = [i for i in val if i.source != cfg.exclude_source]
    return train, val


def load_data(cfg: TrainConfig, samples: list[Sample]) -> TrainData:
    train, val = training_items(cfg, samples)
    cache = Path(cfg.cache_dir)
    crops, masks = load_crops(
        [i.path for i in train],
        cfg.size,
        names=[i.key for i in train],
        cache_dir=cache,
        method=cfg.preprocessing,
    )
    x_train = np.stack(
        [finish_uint8(c, m, cfg.preprocessing) for c, m in zip(crops, masks, strict=True)]
    )
    x_val = load_prepared_paths(
        [i.path for i in val],
        cfg.size,
        names=[i.key for i in val],
        cache_dir=cache,
        method=cfg.preprocessing,
    )
    return TrainData(
        train,
        val,
        crops,
        masks,
        x_train,
        x_val,
        np.array([i.label for i in train]),
        np.array([i.label for i in val]),
    )


def split_training(cfg: TrainConfig, samples: list[Sample]) -> tuple[list[Sample], list[Sample]]:
    """Group-aware stratified train/val split of the Training samples."""
    training = [s for s in samples if s.split == "Training"]
    audit = Path(cfg.audit_json)
    if audit.exists():
        group_of = load_groups(audit)
    else:  # no committed audit (e.g. another data set): compute the groups now
        summary = run_audit(Path(cfg.data))[1]
        group_of = {p: g for g, members in enumerate(summary["_groups"]) for p in members}
    groups = groups_for([s.relpath for s in training], group_of)
    labels = [s.label for s in training]
    train_idx, val_idx = group_split(labels, groups, val_fraction=cfg.val_fraction, seed=cfg.seed)
    return [training[i] for i in train_idx], [training[i] for i in val_idx]


def augment_config(cfg: TrainConfig) -> AugmentConfig:
    """ "domain": every change of ml.image.augment; "geometric": flips, turns, zoom and shift only."""
    if cfg.augment == "domain":
        return AugmentConfig()
    return AugmentConfig(
        skull_strip=0.0, bias_field=0.0, downsample=0.0, blur=0.0, noise=0.0, jpeg=0.0,
        gamma=0.0, window=0.0, equalize=0.0,
    )  # fmt: skip


# (images, one-hot labels, loss weights), all float32
Batch = tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]


def augmented_batches(
    data: TrainData, cfg: TrainConfig, weights: np.ndarray, seed: int
) -> Iterator[Batch]:
    """Endless (images, one-hot labels, loss weights) batches: a new permutation every
    epoch, every image randomised (ml.image.augment) and then standardised as inference does."""
    for _, batch in indexed_batches(data, cfg, weights, seed):
        yield batch


def indexed_batches(
    data: TrainData, cfg: TrainConfig, weights: np.ndarray, seed: int
) -> Iterator[tuple[np.ndarray, Batch]]:
    """augmented_batches with the training-image indices of each batch."""
    rng = np.random.default_rng(seed)
    aug = augment_config(cfg)
    eye = np.eye(len(CLASS_NAMES), dtype=np.float32)
    normal, glioma = CLASS_NAMES.index("notumor"), CLASS_NAMES.index("glioma")
    n = len(data.y_train)
    while True:
        order = rng.permutation(n)
        for start in range(0, n - cfg.batch_size + 1, cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            images = np.empty((len(idx), cfg.size, cfg.size, 1), np.float32)
            labels = data.y_train[idx].copy()
            for row, i in enumerate(idx):
                crop = data.crops[i]
                if labels[row] == normal and rng.random() < cfg.synthetic_tumours:
                    crop, labels[row] = add_lesion(crop, data.masks[i], rng), glioma
                crop, mask = randomize(crop, data.masks[i], rng, aug)
                images[row, ..., 0] = finish_uint8(crop, mask, cfg.preprocessing) / 255.0
            yield idx, (images, eye[labels], weights[idx].astype(np.float32))


def adversarial_batches(
    data: TrainData, cfg: TrainConfig, weights: np.ndarray, seed: int
) -> Iterator[Any]:
    """The source adversary's batches (ml.training.adversary): inputs (images, class
    one-hot), and targets and loss weights per output. A synthetic lesion keeps its host
    image's source: a drawn glioma in an IXI slice is an IXI glioma to the adversary."""
    sources = source_indices([i.source for i in data.train])
    eye = np.eye(len(SOURCES), dtype=np.float32)
    for idx, (images, onehot, w) in indexed_batches(data, cfg, weights, seed):
        targets = {CLASS_OUTPUT: onehot, SOURCE_OUTPUT: eye[sources[idx]]}
        yield (images, onehot), targets, {CLASS_OUTPUT: w, SOURCE_OUTPUT: w}


# tf.data.Dataset: TensorFlow is untyped here.
def train_dataset(data: TrainData, cfg: TrainConfig, weights: np.ndarray) -> Any:
    size, k = cfg.size, len(CLASS_NAMES)
    images = tf.TensorSpec((None, size, size, 1), tf.float32)
    onehot = tf.TensorSpec((None, k), tf.float32)
    weight = tf.TensorSpec((None,), tf.float32)
    if cfg.source_adversary > 0:
        per_output = {CLASS_OUTPUT: onehot, SOURCE_OUTPUT: tf.TensorSpec((None, len(SOURCES)))}
        signature: Any = (
            (images, onehot),
            per_output,
            {CLASS_OUTPUT: weight, SOURCE_OUTPUT: weight},
        )
        batches: Any = adversarial_batches
    else:
        signature, batches = (images, onehot, weight), augmented_batches
    ds = tf.data.Dataset.from_generator(
        lambda: batches(data, cfg, weights, cfg.seed), output_signature=signature
    )
    return ds.prefetch(4)


def make_dataset(x: np.ndarray, y: np.ndarray, batch: int, sources: list[str] | None = None) -> Any:
    """Un-augmented (images, one-hot) batches: validation. With `sources`, in the source
    adversary's structure ((images, one-hot), {"logits", "source"})."""
    onehot = np.eye(len(CLASS_NAMES), dtype=np.float32)[y]
    if sources is None:
        ds = tf.data.Dataset.from_tensor_slices((x[..., np.newaxis], onehot))
        ds = ds.batch(batch).map(lambda a, b: (tf.cast(a, tf.float32) / 255.0, b))
        return ds.prefetch(tf.data.AUTOTUNE)
    source = np.eye(len(SOURCES), dtype=np.float32)[source_indices(sources)]
    ds = tf.data.Dataset.from_tensor_slices((x[..., np.newaxis], onehot, source))
    ds = ds.batch(batch).map(
        lambda a, b, c: (
            (tf.cast(a, tf.float32) / 255.0, b),
            {CLASS_OUTPUT: b, SOURCE_OUTPUT: c},
        )
    )
    return ds.prefetch(tf.data.AUTOTUNE)


def loss_weights(data: TrainData, cfg: TrainConfig) -> np.ndarray:
    """Balanced classes; with source balance, rarer sources inside a class weigh more."""
    if cfg.source_balance:
        return source_weights(data.y_train, [i.source for i in data.train])
    balanced = class_weights(data.y_train)
    return np.array([balanced[int(c)] for c in data.y_train])


def class_weights(y: np.ndarray) -> dict[int, float]:
    """Balanced weights n / (k * n_c): each class contributes equally to the loss."""
    counts = np.bincount(y, minlength=len(CLASS_NAMES))
    return {c: float(len(y) / (len(counts) * n)) for c, n in enumerate(counts) if n}
