"""Fit the input gate for a model (`python -m ml.gate fit --model M --data D`, ml/cli/gate.py).

Class means + covariance of pooled features on the model's training split, the threshold
at a quantile of its validation split (splits.json beside the model), written to gate.npz
beside the model. The served model comes from the caller (`load`), so fitting needs nothing
from ml.serving.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ml.artifacts import CARD_FILE, GATE_FILE, SPLITS_FILE
from ml.card import ModelCard, load_card
from ml.data.samples import SPLITS, parallel_map
from ml.data.sources import default_external
from ml.gate.checks import FeatureCheck, GateStats, StatisticsCheck
from ml.gate.statistics import image_statistics
from ml.image.augment import random_slice_change
from ml.image.decode import decode_image
from ml.image.preprocess import finish_uint8, head_crop

QUANTILE = 0.999  # 0.995 let only 98.1 % of official test MRIs through (GATE.md)
SPLIT_NAMES = (("train", "train"), ("val", "validation"))  # our name, splits.json's name
CHUNK = 256  # images per feature batch: bounds memory at any input size
# The "unfamiliar image" limit: this quantile of validation feature distances. Beyond it
# (but within the gate's limit) a result is shown with "this result is less reliable".
UNFAMILIAR_QUANTILE = 0.98
VARIANT_SEED = 7000  # seeds of the changed copies: index + this


class Served(Protocol):
    """What fitting needs of ml.serving.runtime.ServedModel (a layer above this one)."""

    body: Any  # the Keras model up to the last convolution (Keras is untyped here)


def fit(
    model_path: Path,
    data: Path,
    *,
    load: Callable[[Path], tuple[Served, ModelCard]],
    quantile: float = QUANTILE,
    external: Path | None = None,
    variants: bool = True,
) -> dict[str, Any]:
    """Fit gate.npz for the model from its own train/validation split; returns a summary.

    Each training image counts once as it is and (`variants`) once more after one random
    acquisition or export change (ml.image.augment.random_slice_change: gamma, window,
    equalisation, JPEG, lower resolution, noise, skull-stripping), so the reference covers
    what other scanners and viewers produce, not one data set's look. The limits are the
    quantile of the unchanged validation slices' distances (with changed validation copies
    too, 2026-12-02, the limits grew until 9 % of the non-MRI set passed).

    Everything that forks worker processes (decoding, statistics, preprocessing) runs
    before TensorFlow starts: forking a process that already runs TensorFlow's threads can
    hang. `load(model_path)` returns (served model, card) once that is done: the caller's
    ml.serving.runtime.load_verified, with its thread count.
    """
    card = load_card(model_path.parent / CARD_FILE)
    splits = json.loads((model_path.parent / SPLITS_FILE).read_text(encoding="utf-8"))
    external = external or default_external(data)
    prepared: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for part, name in SPLIT_NAMES:
        keys = splits[name]
        jobs = [
            (str(resolve_key(k, data, external)), card.input_size, card.preprocessing_method, i)
            for i, k in enumerate(keys)
        ]
        # Changed copies widen the reference (train) only: the limits are then set by how far
        # real held-out slices lie from it, so non-MRI images are not let in by the widening.
        copies = (False, True) if variants and part == "train" else (False,)
        rows = [
            row
            for changed in copies
            for row in parallel_map(
                _gate_inputs, [(*job, changed) for job in jobs], processes=os.cpu_count() or 1
            )
        ]
        labels = np.array([card.class_names.index(k.split("/")[1]) for k in keys] * len(copies))
        prepared[part] = (
            np.stack([r[0] for r in rows]),
            np.stack([r[1] for r in rows]),
            labels,
        )
    served, card = load(model_path)
    features = {part: _pooled_features(served, images) for part, (_, images, _) in prepared.items()}
    statistics = {part: stats for part, (stats, _, _) in prepared.items()}
    feature_check = FeatureCheck.fit(
        features["train"], prepared["train"][2], features["val"], quantile
    )
    val_distances = np.array([feature_check.distance(row) for row in features["val"]])
    stats = GateStats(
        statistics=StatisticsCheck.fit(statistics["train"], statistics["val"], quantile),
        features=feature_check,
        quantile=quantile,
        model_sha256=card.sha256,
        unfamiliar_threshold=float(np.quantile(val_distances, UNFAMILIAR_QUANTILE)),
        unfamiliar_quantile=UNFAMILIAR_QUANTILE,
    )
    stats.save(model_path.parent / GATE_FILE)
    return {
        "statistics_threshold": round(stats.statistics.threshold, 4),
        "features_threshold": round(stats.features.threshold, 4),
        "unfamiliar_threshold": round(float(stats.unfamiliar_threshold or 0.0), 4),
        "quantile": quantile,
        "unfamiliar_quantile": UNFAMILIAR_QUANTILE,
        "fitted_on": {part: len(rows[2]) for part, rows in prepared.items()},
        "with_changed_copies": variants,
        "feature_dim": int(stats.features.precision.shape[0]),
    }


def resolve_key(key: str, data: Path, external: Path) -> Path:
    """splits.json names Kaggle images from the Kaggle directory, others from external/."""
    return (data if key.split("/")[0] in SPLITS else external) / key


def _gate_inputs(job: tuple[str, int, str, int, bool]) -> tuple[np.ndarray, np.ndarray]:
    """(image statistics of the whole slice, prepared model input) of one training or
    validation image, as it is or after one random change seeded by its index."""
    path, size, method, index, changed = job
    gray = decode_image(Path(path).read_bytes())
    if changed:
        gray = random_slice_change(gray, np.random.default_rng(VARIANT_SEED + index))
    crop, crop_mask, _, _ = head_crop(gray, size, method)
    return image_statistics(gray), finish_uint8(crop, crop_mask, method)


def _pooled_features(served: Served, prepared_uint8: np.ndarray) -> np.ndarray:
    """Batched version of what `ServedModel.forward` pools for one image (same numbers up
    to float rounding), so fitting takes a minute instead of a call per image."""
    chunks = []
    for start in range(0, len(prepared_uint8), CHUNK):
        batch = prepared_uint8[start : start + CHUNK].astype(np.float32)[..., np.newaxis] / 255.0
        feature_maps = served.body.predict(batch, batch_size=64, verbose=0)
        chunks.append(np.asarray(feature_maps, np.float32).mean(axis=(1, 2)))
    return np.concatenate(chunks)
