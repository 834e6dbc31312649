"""After the fit: BatchNorm statistics, temperature, risk thresholds, and the model card.

`finish` recomputes the BatchNorm statistics, fits the temperature and the risk thresholds
on validation, saves the float32 model and splits.json, and returns the card that
`write_card` writes beside it.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import keras
import numpy as np

from ml import CLASS_NAMES, NORMAL_CLASS
from ml import card as card_file
from ml.artifacts import CARD_FILE, MODEL_FILE, SPLITS_FILE
from ml.card import RISK_RULE, calibrated_probabilities, sha256_file
from ml.data.samples import Sample
from ml.data.sources import Item
from ml.image.augment import randomize
from ml.image.preprocess import finish_uint8
from ml.metrics.calibration import calibration_summary, fit_temperature
from ml.metrics.classification import confusion_matrix, point_metrics
from ml.metrics.thresholds import choose_thresholds, describe
from ml.networks import LAST_CONV
from ml.training.config import VERSION, TrainConfig, config_dict
from ml.training.loop import predict_logits
from ml.training.pipeline import TrainData, augment_config


def recalibrate_batchnorm(
    model: keras.Model, x_uint8: np.ndarray, *, batch: int = 64, seed: int = 0
) -> int:
    """Recompute every BatchNormalization moving mean/variance on un-augmented training
    images, as an exact running average over one pass.

    During fit the moving statistics follow AUGMENTED batches (brightness, contrast,
    zoom) and lag behind the weights; inference sees un-augmented images. Measured on the
    shipped model: validation accuracy 95.7 % before, 98.0 % after. No weight is trained.
    """
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in bns]
    order = np.random.default_rng(seed).permutation(len(x_uint8))
    for i, start in enumerate(range(0, len(order), batch)):
        for layer in bns:
            layer.momentum = i / (i + 1)  # new = old * i/(i+1) + batch / (i+1)
        x = x_uint8[order[start : start + batch], ..., np.newaxis].astype(np.float32) / 255.0
        model(x, training=True)
    for layer, momentum in zip(bns, momenta, strict=True):
        layer.momentum = momentum
    return len(order)


def augmented_once(data: TrainData, cfg: TrainConfig, seed: int) -> np.ndarray:
    """Every training image once through the training randomisation, prepared (uint8)."""
    rng = np.random.default_rng(seed)
    aug = augment_config(cfg)
    out = np.empty_like(data.x_train)
    for i in range(len(out)):
        crop, mask = randomize(data.crops[i], data.masks[i], rng, aug)
        out[i] = finish_uint8(crop, mask, cfg.preprocessing)
    return out


def _nll(logits: np.ndarray, y: np.ndarray) -> float:
    probs = calibrated_probabilities(logits, 1.0)
    return float(-np.log(np.maximum(probs[np.arange(len(y)), y], 1e-12)).mean())


def choose_batchnorm_statistics(
    model: keras.Model, data: TrainData, cfg: TrainConfig
) -> dict[str, Any]:
    """Recompute BatchNorm statistics on the training images, un-augmented or un-augmented
    plus one randomised copy of each, and keep whichever gives the lower validation loss.

    Un-augmented statistics fit our own sources best; the randomised copies make them
    cover the spread of other scanners' images. Validation (Kaggle + IXI people) decides.
    """
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    fitted = [[w.numpy() for w in layer.weights] for layer in bns]
    before = predict_logits(model, data.x_val)
    candidates = {
        "un-augmented": data.x_train,
        "un-augmented + one randomised copy": np.concatenate(
            [data.x_train, augmented_once(data, cfg, cfg.seed + 1)]
        ),
    }
    outcome: dict[str, Any] = {
        "val_loss_before": round(_nll(before, data.y_val), 5),
        "val_accuracy_before": round(float((before.argmax(1) == data.y_val).mean()), 5),
    }
    best_name, best_loss, best_weights = "", np.inf, None
    for name, images in candidates.items():
        for layer, weights in zip(bns, fitted, strict=True):
            layer.set_weights(weights)
        recalibrate_batchnorm(model, images, seed=cfg.seed)
        logits = predict_logits(model, data.x_val)
        loss = _nll(logits, data.y_val)
        outcome[name] = {
            "images": len(images),
            "val_loss": round(loss, 5),
            "val_accuracy": round(float((logits.argmax(1) == data.y_val).mean()), 5),
        }
        if loss < best_loss:
            best_name, best_loss = name, loss
            best_weights = [[w.numpy() for w in layer.weights] for layer in bns]
    for layer, weights in zip(bns, best_weights or fitted, strict=True):
        layer.set_weights(weights)
    outcome["chosen"] = best_name
    return outcome


def finish(
    cfg: TrainConfig, result: dict[str, Any], data: TrainData, samples: list[Sample]
) -> dict[str, Any]:
    """Recalibrate BatchNorm, calibrate on validation, choose thresholds, save, build the card."""
    model = result["model"]
    normal = CLASS_NAMES.index(NORMAL_CLASS)
    x_val, y_val = data.x_val, data.y_val
    result["batchnorm_recalibration"] = choose_batchnorm_statistics(model, data, cfg)
    logits = predict_logits(model, x_val)
    temperature = fit_temperature(logits, y_val)
    probs = calibrated_probabilities(logits, temperature)
    tumour_p, is_tumour = 1.0 - probs[:, normal], y_val != normal
    thresholds = choose_thresholds(tumour_p, is_tumour)
    out = Path(cfg.out)
    model_path = out / MODEL_FILE
    model.save(model_path)
    (out / "best.weights.h5").unlink(missing_ok=True)
    write_split_lists(out, data.train, data.val)
    val_metrics = point_metrics(y_val, probs, normal, thresholds["medium"])
    val_metrics["confusion_matrix"] = confusion_matrix(
        y_val, probs.argmax(1), len(CLASS_NAMES)
    ).tolist()
    val_metrics["n"] = len(y_val)
    return {
        "version": f"brainscan-{cfg.arch}-{VERSION}",
        "file": MODEL_FILE,
        "sha256": sha256_file(model_path),
        "file_bytes": model_path.stat().st_size,
        "architecture": cfg.arch,
        "parameters": int(model.count_params()),
        "input_size": cfg.size,
        "channels": 1,
        "class_names": list(CLASS_NAMES),
        "normal_class": NORMAL_CLASS,
        "temperature": round(temperature, 6),
        "risk_thresholds": thresholds,
        "risk_rule": RISK_RULE,
        "last_conv_layer": LAST_CONV,
        "preprocessing_method": cfg.preprocessing,
        "preprocessing": PREPROCESSING_TEXT[cfg.preprocessing],
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": data_facts(cfg, samples, data),
        "splits": split_facts(cfg, data.train, data.val),
        "training": training_facts(cfg, result),
        "metrics": {"validation": val_metrics},
        "operating_point": {
            "chosen_on": "validation",
            "tumour_probability": "1 - P(notumor) after temperature scaling",
            **describe(tumour_p, is_tumour, thresholds),
        },
        "calibration": {
            "fitted_on": "validation",
            **calibration_summary(logits, y_val, temperature),
        },
    }


PREPROCESSING_TEXT = {
    "crop-v1": "ml.preprocess.prepare: decode to 8-bit grayscale, head mask (threshold + "
    "largest contour, whole image as fallback), crop, INTER_AREA resize, /255",
    "crop-rank-v2": "ml.preprocess.prepare: decode to 8-bit grayscale, head mask (threshold + "
    "largest contour, whole image as fallback), crop, INTER_AREA resize, gray levels inside "
    "the head replaced by their mid-rank (histogram equalisation within the head), 0 outside, "
    "/255",
    "crop-rank-v3": "ml.image.preprocess.prepare: decode to 8-bit grayscale, head mask "
    "(threshold halfway between the background's 2nd-percentile gray level and Otsu's, "
    "largest contour, whole image as fallback), crop, INTER_AREA resize, gray levels inside "
    "the head replaced by their mid-rank (histogram equalisation within the head), 0 outside, "
    "/255",
}


def data_facts(cfg: TrainConfig, samples: list[Sample], data: TrainData) -> dict[str, Any]:
    counts: dict[str, dict[str, int]] = {}
    for s in samples:
        counts.setdefault(s.split, dict.fromkeys(CLASS_NAMES, 0))[CLASS_NAMES[s.label]] += 1
    trained_on = ["Brain Tumor MRI Dataset (Nickparvar, Kaggle; figshare + SARTAJ + Br35H), CC0"]
    if any(i.source == "ixi" for i in data.train):
        trained_on.append(
            "IXI (Hammersmith Hospital, healthy adults), CC BY-SA 3.0: 'Data provided by the "
            "IXI project, Imperial College London'; this model is a derivative (CC BY-SA 3.0)"
        )
    return {
        "name": trained_on[0],
        "trained_on": trained_on,
        "never_trained_on": ["BraTS 2013 / TCGA gliomas (kept for testing)"],
        "directory": Path(cfg.data).name,
        "counts": counts,
        "audit": "ml/reports/AUDIT.md",
    }


def split_facts(cfg: TrainConfig, train: list[Item], val: list[Item]) -> dict[str, Any]:
    def per_class(items: list[Item]) -> dict[str, int]:
        c = np.bincount([i.label for i in items], minlength=len(CLASS_NAMES))
        return dict(zip(CLASS_NAMES, c.tolist(), strict=True))

    def per_source(items: list[Item]) -> dict[str, int]:
        cells = Counter(f"{i.source}/{CLASS_NAMES[i.label]}" for i in items)
        return dict(sorted(cells.items()))

    return {
        "method": "group-aware stratified split of Kaggle Training/ (near-duplicate groups "
        "from the audit never straddle train/validation); IXI split by person (ml/sources.py); "
        "Kaggle Testing/, the IXI test people and BraTS/TCGA untouched",
        "seed": cfg.seed,
        "val_fraction": cfg.val_fraction,
        "train": per_class(train),
        "validation": per_class(val),
        "train_by_source": per_source(train),
        "validation_by_source": per_source(val),
        "lists": "splits.json next to the model",
    }


def training_facts(cfg: TrainConfig, result: dict[str, Any]) -> dict[str, Any]:
    return {
        "config": result.get("config") or config_dict(cfg),
        "fit_wall_seconds": round(result["fit_seconds"], 1),
        "epochs_run": result["epochs_run"],
        "best_epoch": result["best_epoch"],
        "stopped_by_budget": result["stopped_by_budget"],
        "images_per_second": round(result["images_per_second"], 1),
        "optimizer": "AdamW, warmup + cosine LR over max(step, wall-clock) progress",
        "loss": f"categorical cross-entropy, label smoothing {cfg.label_smoothing}, "
        + (
            "source-balanced weights (classes equal; rarer sources in a class up to 6x)"
            if cfg.source_balance
            else "balanced class weights"
        )
        + (
            f"; class-conditional source adversary through gradient reversal, strength "
            f"{cfg.source_adversary} (ml.training.adversary)"
            if cfg.source_adversary > 0
            else ""
        ),
        "augmentation": cfg.augment,
        "synthetic_tumours": cfg.synthetic_tumours,
        "source_adversary": cfg.source_adversary,
        "history": result["history"],
        "batchnorm_recalibration": result["batchnorm_recalibration"],
        "refinished_without_refit": bool(result.get("refinished")),
    }


def write_split_lists(out: Path, train: list[Item], val: list[Item]) -> None:
    lists = {"train": [i.key for i in train], "validation": [i.key for i in val]}
    (out / SPLITS_FILE).write_text(json.dumps(lists) + "\n", encoding="utf-8")


def write_card(out: Path, card: dict[str, Any]) -> None:
    card_file.write_card(out / CARD_FILE, card)
