"""Single-slice analysis for the worker: load once, then `Engine.analyze` per scan.

decode -> input gate (cheap checks) -> brain crop + resize -> one compiled model call
(feature map + logits) -> gate (feature distance) -> calibrated probabilities, risk ->
Grad-CAM on the feature map -> heatmap and overlay PNGs at the slice's own size.

The model runs through a `tf.function` with a fixed input signature: traced once at load,
then each call is a single graph execution. `model.predict` per image instead rebuilds a
data pipeline every call and is about 5-10x slower for one slice (see ml/cli/bench.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ml.artifacts import GATE_FILE
from ml.card import ModelCard, calibrated_probabilities, risk_level
from ml.gate.checks import Gate, GateStats, Verdict, colour_preview, shrink_preview, worse
from ml.gate.statistics import statistics_mask
from ml.image.decode import UnreadableImage, decode_image, to_grayscale
from ml.image.preprocess import prepare
from ml.serving.overlay import heatmap_png, mass_inside, overlay_png, to_slice
from ml.serving.runtime import ModelUnavailable, ServedModel, load_verified

STAGES = ("decode", "gate", "preprocess", "model", "gradcam", "overlay", "total")


class UnreadableScan(UnreadableImage):
    """The scan's bytes are not a decodable image (a ValueError, like UnreadableImage)."""


@dataclass(frozen=True)
class Analysis:
    accepted: bool
    gate_score: float
    gate_reason: str
    label: str | None
    probabilities: dict[str, float]
    tumour_probability: float | None
    risk: str | None
    confidence: float | None
    heatmap_png: bytes | None
    overlay_png: bytes | None
    heatmap_inside_brain: float | None
    width: int
    height: int
    timings_ms: dict[str, float]
    model_version: str
    model_sha256: str
    # The class whose evidence the heatmap shows: the most probable TUMOUR class, also when
    # the answer is "no tumour" (a heatmap of "no tumour" would light up normal anatomy).
    heatmap_class: str | None = None
    # The features are farther from the training slices than most validation slices are
    # (beyond the gate's lower, "unfamiliar" limit): the answer is less reliable.
    unfamiliar: bool = False


@dataclass
class _Clock:
    """Per-stage wall times in milliseconds; every stage is present (0.0 if skipped)."""

    start: float = field(default_factory=time.perf_counter)
    last: float = 0.0
    times: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.times[stage] += 1000.0 * (now - (self.last or self.start))
        self.last = now

    def done(self) -> dict[str, float]:
        self.times["total"] = 1000.0 * (time.perf_counter() - self.start)
        return {k: round(v, 3) for k, v in self.times.items()}


class Engine:
    """Loaded once per worker process; `analyze` is then called for every scan."""

    def __init__(self, served: ServedModel, card: ModelCard, gate: Gate) -> None:
        self.served = served
        self.card = card
        self.gate = gate
        self.version = card.version
        self.sha256 = card.sha256

    @classmethod
    def load(
        cls,
        model_path: str | Path,
        card_path: str | Path | None = None,
        *,
        gate_path: str | Path | None = None,
        threads: int | None = None,
        bfloat16: bool | None = None,
        batch_bfloat16: bool | None = None,
    ) -> Engine:
        """Verify and load model, card and gate statistics (default: next to the model).

        Args:
            model_path: the .keras file.
            card_path: model_card.json; default: beside the model.
            gate_path: the gate's .npz; default: gate.npz beside the model.
            threads: TensorFlow intra-op threads; default env BRAINSCAN_TF_THREADS or 1.
            bfloat16: compute in bfloat16 (see configure_bfloat16); default env or off.
            batch_bfloat16: `analyze_batch` only, on a bfloat16 copy of the model (see
                runtime.bfloat16_copy); default env BRAINSCAN_TF_BATCH_BFLOAT16=1, or off.
                Its probabilities are then no longer those of `analyze` (see the README).

        Raises:
            ModelUnavailable: anything missing, unreadable or not matching.
        """
        served, card = load_verified(
            model_path,
            card_path,
            threads=threads,
            bfloat16=bfloat16,
            batch_bfloat16=batch_bfloat16,
        )
        gate_path = Path(gate_path) if gate_path else Path(model_path).parent / GATE_FILE
        return cls(served, card, Gate(_read_gate_stats(gate_path, card.sha256)))

    def analyze(
        self, image: bytes | np.ndarray, *, explain: bool = True, enforce_gate: bool = True
    ) -> Analysis:
        """Gate, classify and (if `explain`) explain one slice.

        Args:
            image: encoded image bytes, or a decoded array (2-D gray, or RGB/RGBA, uint8).
            explain: compute the Grad-CAM heatmap and overlay PNGs.
            enforce_gate: False classifies (and explains) a rejected slice too, keeping the
                gate's verdict in the result: for evaluations of "the model alone".

        Raises:
            UnreadableScan: the bytes are not an image we can decode.
        """
        clock = _Clock()
        gray, colour = _decode(image)
        clock.lap("decode")
        head = statistics_mask(gray)  # once: the gate's statistics, then the heatmap's share
        verdict = self.gate.check_image(gray, colour, mask=head)
        clock.lap("gate")
        if not verdict.accepted and enforce_gate:
            return self._result(verdict, gray, clock)
        prepared = prepare(gray, self.card.input_size, self.card.preprocessing_method)
        clock.lap("preprocess")
        feature_map, logits, pooled = self.served.forward(prepared.tensor[np.newaxis])
        clock.lap("model")
        features_verdict, unfamiliar = self.gate.check_features_many(pooled[np.newaxis])[0]
        verdict = worse(verdict, features_verdict)
        clock.lap("gate")
        if not verdict.accepted and enforce_gate:
            return self._result(verdict, gray, clock)
        probabilities = calibrated_probabilities(logits, self.card.temperature)
        if not explain:
            return self._result(verdict, gray, clock, probabilities, unfamiliar=unfamiliar)
        target = self.heatmap_target(probabilities)
        cam = self.served.gradcam(feature_map, target)
        heatmap = to_slice(cam, prepared.bbox, gray.shape)
        inside = mass_inside_brain(heatmap, gray, head)
        clock.lap("gradcam")
        pngs = (heatmap_png(heatmap), overlay_png(gray, heatmap))
        clock.lap("overlay")
        return self._result(
            verdict, gray, clock, probabilities, pngs, inside, target, unfamiliar=unfamiliar
        )

    def analyze_batch(
        self, images: list[bytes | np.ndarray], *, explain: bool = True, overlay: bool = False
    ) -> list[Analysis]:
        """`analyze` for many slices with one model call and one Grad-CAM call for all.

        The gate checks each slice as `analyze` does (enforced); the slices it passes go
        through the model together, and Grad-CAM explains each one's most probable tumour
        class in one gradient. Results are those of `analyze` for each slice, in order (the
        ml tests compare the two). `overlay` also renders the overlay PNG of each slice (the
        study viewer blends the heatmap itself). Per-slice timings are the batch's, shared.

        Raises:
            UnreadableScan: one of the images is not an image we can decode.
        """
        clock = _Clock()
        decoded = [_decode(image) for image in images]
        clock.lap("decode")
        heads = [statistics_mask(gray) for gray, _ in decoded]
        verdicts = self.gate.check_images(decoded, heads)
        clock.lap("gate")
        passed = [i for i, v in enumerate(verdicts) if v.accepted]
        prepared = {
            i: prepare(decoded[i][0], self.card.input_size, self.card.preprocessing_method)
            for i in passed
        }
        clock.lap("preprocess")
        probabilities: dict[int, np.ndarray] = {}
        unfamiliar: dict[int, bool] = {}
        heat: dict[int, tuple[tuple[bytes, bytes], float, int]] = {}
        if passed:
            tensor = np.stack([prepared[i].tensor for i in passed])
            feature_maps, logits, pooled = self.served.forward_batch(tensor)
            clock.lap("model")
            checked = self.gate.check_features_many(pooled)
            for row, (i, (features_verdict, far)) in enumerate(zip(passed, checked, strict=True)):
                verdicts[i] = worse(verdicts[i], features_verdict)
                unfamiliar[i] = far
                probabilities[i] = calibrated_probabilities(logits[row], self.card.temperature)
            clock.lap("gate")
            rows = [row for row, i in enumerate(passed) if verdicts[i].accepted]
            if explain and rows:
                targets = [self.heatmap_target(probabilities[passed[row]]) for row in rows]
                cams = self.served.gradcam_batch(feature_maps, np.array(targets), rows=rows)
                clock.lap("gradcam")
                for cam, row, class_index in zip(cams, rows, targets, strict=True):
                    i = passed[row]
                    gray = decoded[i][0]
                    heatmap = to_slice(cam, prepared[i].bbox, gray.shape)
                    images_png = (
                        heatmap_png(heatmap),
                        overlay_png(gray, heatmap) if overlay else b"",
                    )
                    share = mass_inside_brain(heatmap, gray, heads[i])
                    heat[i] = (images_png, share, class_index)
                clock.lap("overlay")
        timings = clock.done()
        shared = {k: round(v / len(images), 3) for k, v in timings.items()} if images else {}
        shared["batch_size"] = float(len(images))
        results = []
        for i, (gray, _) in enumerate(decoded):
            verdict = verdicts[i]
            if not verdict.accepted:
                results.append(self._result(verdict, gray, _Fixed(shared)))
                continue
            pngs: tuple[bytes, bytes] | None = None
            inside: float | None = None
            target: int | None = None
            explained = heat.get(i)
            if explained is not None:
                pngs, inside, target = explained
            results.append(
                self._result(
                    verdict,
                    gray,
                    _Fixed(shared),
                    probabilities[i],
                    pngs,
                    inside,
                    target,
                    unfamiliar=unfamiliar[i],
                )
            )
        return results

    def heatmap_target(self, probabilities: np.ndarray) -> int:
        """The most probable tumour class: what the heatmap shows the evidence for."""
        tumour = np.array(probabilities, dtype=np.float64)
        tumour[self.card.normal_index] = -1.0
        return int(np.argmax(tumour))

    def _result(
        self,
        verdict: Verdict,
        gray: np.ndarray,
        clock: _Clock | _Fixed,
        probabilities: np.ndarray | None = None,
        pngs: tuple[bytes, bytes] | None = None,
        inside: float | None = None,
        heatmap_index: int | None = None,
        *,
        unfamiliar: bool = False,
    ) -> Analysis:
        label = tumour = risk = confidence = None
        per_class: dict[str, float] = {}
        if probabilities is not None:
            per_class = {
                n: float(p) for n, p in zip(self.card.class_names, probabilities, strict=True)
            }
            label = self.card.class_names[int(np.argmax(probabilities))]
            tumour = float(1.0 - probabilities[self.card.normal_index])
            risk = risk_level(tumour, self.card.risk_thresholds)
            confidence = float(probabilities.max())
        return Analysis(
            accepted=verdict.accepted,
            gate_score=verdict.score,
            gate_reason=verdict.reason,
            label=label,
            probabilities=per_class,
            tumour_probability=tumour,
            risk=risk,
            confidence=confidence,
            heatmap_png=pngs[0] if pngs else None,
            overlay_png=pngs[1] if pngs else None,
            heatmap_inside_brain=inside,
            width=int(gray.shape[1]),
            height=int(gray.shape[0]),
            timings_ms=clock.done(),
            model_version=self.version,
            model_sha256=self.sha256,
            heatmap_class=None if heatmap_index is None else self.card.class_names[heatmap_index],
            unfamiliar=unfamiliar,
        )


class _Fixed:
    """Timings already measured (a batch's share per slice), in the `_Clock` interface."""

    def __init__(self, times: dict[str, float]) -> None:
        self.times = times

    def done(self) -> dict[str, float]:
        return dict(self.times)


def _decode(image: bytes | np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Grayscale slice for the model, plus a small colour preview for the gate."""
    if isinstance(image, np.ndarray):
        return _from_array(image)
    data = bytes(image)
    try:
        gray = decode_image(data)
    except UnreadableImage as exc:
        raise UnreadableScan(str(exc)) from exc
    return gray, colour_preview(data)


def _from_array(array: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Arrays as an in-process caller has them: 2-D gray, or (H, W, 3|4) in RGB order."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise UnreadableScan(f"expected a 2-D gray or RGB(A) array, got shape {array.shape}")
    if array.size == 0:
        raise UnreadableScan("image has no pixels")
    if np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32)  # Pillow has no float64 mode
    try:
        gray = to_grayscale(Image.fromarray(np.ascontiguousarray(array)))
    except (TypeError, ValueError) as exc:
        raise UnreadableScan(f"unsupported array ({array.dtype}, {array.shape})") from exc
    if array.ndim == 2:
        return gray, None
    rgb = array[..., :3]
    if rgb.dtype != np.uint8:  # colourfulness limits are on the 0-255 scale
        rgb = np.clip(rgb.astype(np.float32) * (255.0 / max(float(rgb.max()), 1e-6)), 0, 255)
    return gray, shrink_preview(np.ascontiguousarray(rgb))


def mass_inside_brain(
    heatmap: np.ndarray, gray: np.ndarray, head: np.ndarray | None = None
) -> float:
    """Share of the heatmap inside the head, judged on the gate statistics' head mask (at
    their 256 px working size; ~0.5 ms instead of ~1.3 ms for a full-size brain mask).

    `head` is `statistics_mask(gray)`, which `analyze` has computed for the gate already.
    """
    if head is None:
        head = statistics_mask(gray)
    size = (head.shape[1], head.shape[0])
    return mass_inside(cv2.resize(heatmap, size, interpolation=cv2.INTER_AREA), head)


def slice_features(
    served: ServedModel, gray: np.ndarray, input_size: int, method: str = "crop-v1"
) -> np.ndarray:
    """Pooled last-conv features of one grayscale slice, exactly as `analyze` computes them."""
    return served.forward(prepare(gray, input_size, method).tensor[np.newaxis])[2]


def _read_gate_stats(path: Path, model_sha256: str) -> GateStats:
    """The gate is part of the model: no statistics, or another model's, means no service."""
    if not path.is_file():
        raise ModelUnavailable(
            f"input-gate statistics not found: {path} (create them with `python -m ml.gate fit`)"
        )
    try:
        stats = GateStats.load(path)
    except (OSError, KeyError, ValueError) as exc:
        raise ModelUnavailable(f"input-gate statistics {path} are unreadable: {exc}") from exc
    if stats.model_sha256 != model_sha256:
        raise ModelUnavailable(
            f"input-gate statistics {path} were fitted for another model "
            f"({stats.model_sha256[:12]}...); refit them with `python -m ml.gate fit`"
        )
    return stats
