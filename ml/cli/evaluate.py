"""Evaluate a trained model: python -m ml.evaluate --model ml/artifacts/brainscan.keras --data DIR.

Reports every metric on the official Testing split AND on the leak-free subset from the
audit, with 95 % bootstrap intervals; writes evaluation.json, EVALUATION.md and figures to
ml/reports/, and copies the test metrics into the model card (the .keras file is untouched,
so the card's SHA-256 stays valid).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from ml import CLASS_NAMES
from ml.artifacts import CARD_FILE, DEFAULT_MODEL, MODEL_CARD_MD, REPORTS_DIR, TRAINING_LOG_FILE
from ml.card import (
    ModelCard,
    calibrated_probabilities,
    load_card,
    read_card,
    sha256_file,
    write_card,
)
from ml.data.samples import DEFAULT_CACHE_DIR, Sample, list_samples, load_prepared
from ml.metrics.calibration import calibration_summary, reliability_bins
from ml.metrics.classification import (
    bootstrap_ci,
    confusion_matrix,
    point_metrics,
    sensitivity_specificity,
)

REPORTS = REPORTS_DIR
SUBSETS = {"test": "official Testing split", "test_leak_free": "leak-free Testing subset"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument(
        "--card", type=Path, default=None, help="default: model_card.json beside --model"
    )
    p.add_argument("--leak-free", type=Path, default=REPORTS / "leak_free_test.txt")
    p.add_argument("--out", type=Path, default=REPORTS)
    p.add_argument("--bootstrap", type=int, default=1000)
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    p.add_argument("--no-update-card", dest="update_card", action="store_false")
    p.add_argument("--model-card-md", type=Path, default=MODEL_CARD_MD)
    return p.parse_args(argv)


def test_logits(
    args: argparse.Namespace, card: ModelCard
) -> tuple[list[Sample], np.ndarray, np.ndarray]:
    """Logits for every Testing image, preprocessed exactly as inference does."""
    import keras

    from ml.training.loop import predict_logits

    samples = [s for s in list_samples(args.data) if s.split == "Testing"]
    x = load_prepared(
        args.data,
        samples,
        card.input_size,
        cache_dir=args.cache_dir,
        method=card.preprocessing_method,
    )
    model = keras.saving.load_model(args.model)
    return samples, predict_logits(model, x), np.array([s.label for s in samples])


def evaluate_subset(
    logits: np.ndarray, y: np.ndarray, card: ModelCard, n_boot: int, seed: int = 0
) -> dict[str, Any]:
    normal = card.normal_index
    probs = calibrated_probabilities(logits, card.temperature)
    th = card.risk_thresholds

    def stats(idx: np.ndarray) -> dict[str, Any]:
        m = point_metrics(y[idx], probs[idx], normal, th["medium"])
        tumour = 1 - probs[idx, normal]
        m["sensitivity_at_high"], m["specificity_at_high"] = sensitivity_specificity(
            y[idx] != normal, tumour >= th["high"]
        )
        return m

    point = stats(np.arange(len(y)))
    ci = bootstrap_ci(stats, len(y), n_resamples=n_boot, seed=seed)
    cm = confusion_matrix(y, probs.argmax(1), len(CLASS_NAMES))
    return {
        "n": len(y),
        "by_class_n": {c: int((y == k).sum()) for k, c in enumerate(CLASS_NAMES)},
        "metrics": {k: {"value": v, "ci95": ci.get(k)} for k, v in point.items()},
        "confusion_matrix": cm.tolist(),
        "calibration": calibration_summary(logits, y, card.temperature),
        "reliability": {
            "before": reliability_bins(calibrated_probabilities(logits, 1.0), y),
            "after": reliability_bins(probs, y),
        },
    }


def card_view(result: dict[str, Any]) -> dict[str, Any]:
    """The compact form stored in the model card: value and CI per metric."""
    m = result["metrics"]
    return {
        "n": result["n"],
        **{k: round(v["value"], 5) for k, v in m.items()},
        "ci95": {k: [round(a, 5) for a in v["ci95"]] for k, v in m.items() if v["ci95"]},
        "confusion_matrix": result["confusion_matrix"],
        "ece": round(result["calibration"]["ece_after"], 5),
        "brier": round(result["calibration"]["brier_after"], 5),
    }


def make_figures(
    out: Path,
    subsets: dict[str, Any],
    logits: dict[str, Any],
    labels: dict[str, Any],
    card: ModelCard,
    log_csv: Path,
) -> None:
    from ml.cli import plots

    probs = {k: calibrated_probabilities(v, card.temperature) for k, v in logits.items()}
    for key, title in SUBSETS.items():
        r = subsets[key]
        plots.confusion_png(
            np.array(r["confusion_matrix"]), list(CLASS_NAMES), title, out / f"confusion_{key}.png"
        )
        plots.roc_png(
            labels[key],
            probs[key],
            list(CLASS_NAMES),
            card.normal_index,
            title,
            out / f"roc_{key}.png",
        )
        plots.reliability_png(
            r["reliability"]["before"],
            r["reliability"]["after"],
            title,
            out / f"reliability_{key}.png",
        )
    if log_csv.exists():
        plots.curves_png(log_csv, out / "training_curves.png")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    card_path = args.card or args.model.with_name(CARD_FILE)
    card = load_card(card_path)
    if sha256_file(args.model) != card.sha256:
        raise SystemExit("model file does not match the card's sha256; retrain or fix the card")
    samples, logits, y = test_logits(args, card)
    leak_free = set(args.leak_free.read_text(encoding="utf-8").split())
    mask = np.array([s.relpath in leak_free for s in samples])
    parts = {"test": (logits, y), "test_leak_free": (logits[mask], y[mask])}
    subsets = {k: evaluate_subset(lg, yy, card, args.bootstrap) for k, (lg, yy) in parts.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    make_figures(
        args.out,
        subsets,
        {k: v[0] for k, v in parts.items()},
        {k: v[1] for k, v in parts.items()},
        card,
        args.model.with_name(TRAINING_LOG_FILE),
    )
    report = {
        "model": card.version,
        "sha256": card.sha256,
        "temperature": card.temperature,
        "risk_thresholds": card.risk_thresholds,
        "bootstrap_resamples": args.bootstrap,
        **subsets,
    }
    (args.out / "evaluation.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    from ml.cli.markdown import evaluation_markdown

    (args.out / "EVALUATION.md").write_text(
        evaluation_markdown(report, card.extra), encoding="utf-8"
    )
    if args.update_card:
        update_card(card_path, subsets)
        write_model_card_md(card_path, args.out / "comparison.json", args.model_card_md)
    print_summary(subsets)
    return report


def update_card(card_path: Path, subsets: dict[str, Any]) -> None:
    data = read_card(card_path)
    data.setdefault("metrics", {})
    for key, result in subsets.items():
        data["metrics"][key] = card_view(result)
    data["calibration"]["test"] = {
        k: round(v, 5) for k, v in subsets["test"]["calibration"].items() if k != "temperature"
    }
    write_card(card_path, data)


def write_model_card_md(card_path: Path, comparison_json: Path, out: Path) -> None:
    from ml.cli.markdown import model_card_markdown

    card = read_card(card_path)
    comparison = None
    if comparison_json.exists():
        comparison = json.loads(comparison_json.read_text(encoding="utf-8"))
    out.write_text(model_card_markdown(card, comparison), encoding="utf-8")


def print_summary(subsets: dict[str, Any]) -> None:
    keys = ("accuracy", "macro_f1", "tumour_sensitivity", "tumour_specificity", "tumour_auc")
    for name, r in subsets.items():
        m = r["metrics"]
        parts = [
            f"{k}={m[k]['value']:.4f} [{m[k]['ci95'][0]:.4f}, {m[k]['ci95'][1]:.4f}]"
            for k in keys
            if m[k]["ci95"]
        ]
        cal = r["calibration"]
        print(f"{name} (n={r['n']}): " + "  ".join(parts))
        print(
            f"  ECE {cal['ece_before']:.4f} -> {cal['ece_after']:.4f}  Brier {cal['brier_before']:.4f} -> {cal['brier_after']:.4f}"
        )


if __name__ == "__main__":
    main()
