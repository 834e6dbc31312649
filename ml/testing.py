"""Small real artifacts for tests: a tiny Keras model with card and gate, MRI-like images.

Used by ml/tests, the Django tests and the CI integration test, so that everything from
upload to heatmap runs on a real (if untrained) model in seconds, without the shipped one.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from ml import CLASS_NAMES, NORMAL_CLASS
from ml.image.arrays import as_float32

if TYPE_CHECKING:  # imported where used, so importing ml.testing stays light
    from ml.gate.checks import GateStats
    from ml.serving.runtime import ServedModel
    from ml.volumes.geometry import Plane

TINY_FIT_SEEDS = range(1000, 1064)  # images the tiny gate's means/covariance come from
TINY_CALIBRATION_SEEDS = range(2000, 2064)  # held-out images that set its threshold
TINY_MARGIN = 1.25


def mri_like(size: int = 64, seed: int = 0) -> np.ndarray:
    """A synthetic axial slice: black background, bright skull ring, textured brain,
    dark ventricles and sometimes a bright blob. Not anatomy; just MRI-shaped statistics."""
    rng = np.random.default_rng(seed)
    img = np.zeros((size, size), np.float32)
    centre = (round(size * rng.uniform(0.46, 0.54)), round(size * rng.uniform(0.46, 0.54)))
    axes = np.array([rng.uniform(0.33, 0.40), rng.uniform(0.38, 0.44)]) * size
    angle = rng.uniform(-12, 12)
    cv2.ellipse(img, centre, _int_pair(axes), angle, 0, 360, rng.uniform(170, 230), -1)
    brain = np.zeros_like(img)
    cv2.ellipse(brain, centre, _int_pair(axes * 0.88), angle, 0, 360, 1.0, -1)
    noise = rng.normal(0, 1, img.shape).astype(np.float32)
    texture = as_float32(cv2.GaussianBlur(noise, (0, 0), size / 40))
    texture *= 25.0 / max(float(texture.std()), 1e-6)
    img = np.where(brain > 0, rng.uniform(85, 125) + texture, img)
    for side in (-1, 1):  # lateral ventricles
        spot = (centre[0] + side * round(size * 0.06), centre[1] - round(size * 0.02))
        cv2.ellipse(img, spot, _int_pair(axes * (0.07, 0.2)), angle, 0, 360, 35.0, -1)
    if rng.random() < 0.5:  # a bright "lesion"
        spot = (
            centre[0] + round(axes[0] * rng.uniform(-0.5, 0.5)),
            centre[1] - round(axes[1] * 0.4),
        )
        cv2.circle(img, spot, max(1, round(size * rng.uniform(0.04, 0.08))), 210.0, -1)
    img += rng.normal(0, 2.0, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _int_pair(values: np.ndarray) -> tuple[int, int]:
    return max(1, round(float(values[0]))), max(1, round(float(values[1])))


def mri_like_png(size: int = 64, seed: int = 0) -> bytes:
    """`mri_like` encoded as an 8-bit grayscale PNG, as an upload would arrive."""
    ok, buffer = cv2.imencode(".png", mri_like(size, seed))
    if not ok:
        raise RuntimeError("OpenCV could not encode the PNG")
    return buffer.tobytes()


def tiny_model(input_size: int = 32, seed: int = 0) -> Any:  # a keras.Model (untyped here)
    """Two convolutions with the shipped models' layer names ("last_conv", "logits")."""
    import keras
    from keras import initializers, layers

    from ml.networks import LAST_CONV, LOGITS

    def init(offset: int) -> Any:
        return initializers.GlorotUniform(seed=seed * 10 + offset)

    inputs = keras.Input((input_size, input_size, 1), name="image")
    x = layers.Conv2D(8, 3, padding="same", activation="relu", kernel_initializer=init(1))(inputs)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(
        16, 3, padding="same", activation="relu", kernel_initializer=init(2), name=LAST_CONV
    )(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    logits = layers.Dense(len(CLASS_NAMES), kernel_initializer=init(3), name=LOGITS)(x)
    return keras.Model(inputs, logits, name="brainscan_tiny")


def write_tiny_artifacts(directory: Path, *, input_size: int = 32, seed: int = 0) -> Path:
    """Write brainscan.keras, model_card.json and gate.npz into `directory`.

    The model is untrained (its labels mean nothing) but real: Engine.load(returned path)
    verifies and serves it like the shipped one. The gate is fitted on `mri_like` images,
    so those pass and blank, colour, document or noise images are refused.
    """
    from ml.artifacts import CARD_FILE, GATE_FILE, MODEL_FILE
    from ml.card import sha256_file
    from ml.serving.runtime import configure_threads, load_verified

    configure_threads()  # before the first TensorFlow op, or TensorFlow picks its own
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model_path = directory / MODEL_FILE
    tiny_model(input_size, seed).save(model_path)
    card = _tiny_card(model_path, input_size, seed, sha256_file(model_path))
    (directory / CARD_FILE).write_text(json.dumps(card, indent=2), encoding="utf-8")
    served, _ = load_verified(model_path)
    _tiny_gate(served, input_size, card["sha256"]).save(directory / GATE_FILE)
    return model_path


def _tiny_gate(served: ServedModel, input_size: int, sha256: str) -> GateStats:
    """Gate statistics from MRI-like images: fit on one seed range, limit from another."""
    from ml.gate.checks import FeatureCheck, GateStats, StatisticsCheck
    from ml.gate.statistics import image_statistics
    from ml.serving.engine import slice_features

    fit = [mri_like(_tiny_size(s), s) for s in TINY_FIT_SEEDS]
    held_out = [mri_like(_tiny_size(s), s) for s in TINY_CALIBRATION_SEEDS]

    def features(images: list[np.ndarray]) -> np.ndarray:
        return np.stack([slice_features(served, image, input_size) for image in images])

    def statistics(images: list[np.ndarray]) -> np.ndarray:
        return np.stack([image_statistics(image) for image in images])

    # Synthetic slices have no classes: one Gaussian. 64 held-out images are few, so
    # the limits are their maximum plus a margin, not a quantile.
    labels = np.zeros(len(fit), int)
    feature_check = FeatureCheck.fit(features(fit), labels, features(held_out), 1.0)
    statistics_check = StatisticsCheck.fit(statistics(fit), statistics(held_out), 1.0)
    return GateStats(
        statistics=replace(statistics_check, threshold=statistics_check.threshold * TINY_MARGIN),
        features=replace(feature_check, threshold=feature_check.threshold * TINY_MARGIN),
        quantile=1.0,
        model_sha256=sha256,
    )


def _tiny_size(seed: int) -> int:
    return 64 + 48 * (seed % 4)  # 64-208 px: the gate must not depend on the upload's size


def _tiny_card(model_path: Path, input_size: int, seed: int, sha256: str) -> dict[str, Any]:
    return {
        "version": f"tiny-test-{seed}",
        "file": model_path.name,
        "sha256": sha256,
        "architecture": "tiny",
        "input_size": input_size,
        "channels": 1,
        "class_names": list(CLASS_NAMES),
        "normal_class": NORMAL_CLASS,
        "temperature": 1.5,
        "risk_thresholds": {"medium": 0.2, "high": 0.5},
        "last_conv_layer": "last_conv",
        "intended_use": "tests only: an untrained model whose answers mean nothing",
        "metrics": {},
    }


# A head phantom in RAS millimetres for the volume and study tests: an ellipsoid head, a
# darker brain inside it and one bright ball (a "lesion") at a known place, so a test can
# check that a reformatted slice shows the ball exactly where the geometry says it is.
PHANTOM_LESION_RAS = (25.0, 20.0, 30.0)
PHANTOM_LESION_RADIUS_MM = 10.0


def head_phantom(points: np.ndarray) -> np.ndarray:
    """Intensities at RAS points (..., 3): 0 outside, 100 skull/scalp, 60 brain, 200 lesion."""
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    head = (x / 70) ** 2 + (y / 90) ** 2 + (z / 80) ** 2 <= 1
    brain = (x / 62) ** 2 + (y / 82) ** 2 + (z / 72) ** 2 <= 1
    lesion = np.linalg.norm(points - np.array(PHANTOM_LESION_RAS), axis=-1) <= (
        PHANTOM_LESION_RADIUS_MM
    )
    values = np.where(head, 100.0, 0.0)
    values = np.where(brain, 60.0, values)
    return np.where(lesion & brain, 200.0, values)


def phantom_planes(
    col_dir: np.ndarray,
    row_dir: np.ndarray,
    *,
    slices: int,
    spacing: float,
    pixel: float = 2.0,
    size: int = 112,
    step: np.ndarray | None = None,
) -> tuple[list[Plane], list[np.ndarray]]:
    """Planes (ml.volumes.geometry.Plane) through the phantom centred on the origin, and
    their pixels: slice k is `step` (default: the normal times `spacing`) from slice k-1."""
    from ml.volumes.geometry import Plane

    normal = np.cross(col_dir, row_dir)
    step = normal * spacing if step is None else step
    planes, images = [], []
    r, c = np.mgrid[:size, :size]
    for k in range(slices):
        centre = (k - (slices - 1) / 2) * step
        origin = centre - (size - 1) / 2 * pixel * (col_dir + row_dir)
        points = origin + (c[..., None] * pixel) * col_dir + (r[..., None] * pixel) * row_dir
        planes.append(Plane(origin, col_dir, row_dir, pixel, pixel))
        images.append(head_phantom(points))
    return planes, images
