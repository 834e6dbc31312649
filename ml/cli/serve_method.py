"""Serve the shipped weights with another preprocessing method, as a new model version:

    python -m ml.cli.serve_method --method crop-rank-v3 --version brainscan-cnn-2.0.1 \
        --reason "..."

The weights do not change (the card's SHA-256 must still match the .keras file); the card's
version, `preprocessing_method` and preprocessing text do, and `serving_change` records what
the weights were trained with, what they are now served with, when and why. Every result
on the card was measured with the old method, so the steps that measure them must run again
before the card is shipped (`next_steps` on the card names them): the gate is refitted (its
reference inputs are prepared with the new method), then `make evaluate` measures the
official test, every source, the gate and the study rule again.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ml.artifacts import ARTIFACTS_DIR, CARD_FILE
from ml.card import read_card, sha256_file, write_card
from ml.image.preprocess import METHODS
from ml.training.finish import PREPROCESSING_TEXT

CARD = ARTIFACTS_DIR / CARD_FILE
NEXT_STEPS = (
    "python -m ml.cli.gate fit --model ml/artifacts/brainscan.keras --data DATA",
    "python -m ml.cli.evaluate --model ml/artifacts/brainscan.keras --data DATA",
    "python -m ml.cli.evaluate_sources --model ml/artifacts/brainscan.keras --data DATA "
    "--update-card",
    "python -m ml.cli.gate evaluate --model ml/artifacts/brainscan.keras --data DATA",
    "python -m ml.cli.study_rule --model ml/artifacts/brainscan.keras --data DATA --update-card",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--method", choices=METHODS, required=True)
    p.add_argument(
        "--version", required=True, help="the new model version, e.g. brainscan-cnn-2.0.1"
    )
    p.add_argument("--reason", required=True, help="one sentence: why, and what was measured")
    p.add_argument("--card", type=Path, default=CARD)
    return p.parse_args(argv)


def serve_with(card: dict[str, Any], method: str, version: str, reason: str) -> dict[str, Any]:
    """The card, re-issued for `method` under `version` (a new dict; `card` is unchanged)."""
    old_method = str(card.get("preprocessing_method", "crop-v1"))
    if method == old_method:
        raise ValueError(f"the model is already served with {method}")
    if version == card["version"]:
        raise ValueError("a model served differently needs a new version")
    trained_with = card.get("serving_change", {}).get("weights_trained_with", old_method)
    change = {
        "from_version": card["version"],
        "weights_trained_with": trained_with,
        "served_with": method,
        "changed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "reason": reason,
        "kept_from_training": "temperature and risk thresholds (fitted on validation with "
        f"{trained_with} inputs)",
        "next_steps": list(NEXT_STEPS),
    }
    return {
        **card,
        "version": version,
        "preprocessing_method": method,
        "preprocessing": PREPROCESSING_TEXT[method],
        "serving_change": change,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    card = read_card(args.card)
    model = args.card.parent / card["file"]
    if sha256_file(model) != card["sha256"]:
        raise SystemExit(f"{model} is not the model this card describes (SHA-256 differs)")
    new = serve_with(card, args.method, args.version, args.reason)
    write_card(args.card, new)
    print(f"{card['version']} -> {new['version']}: served with {args.method}; now run:")
    for step in NEXT_STEPS:
        print("  " + step)
    return new


if __name__ == "__main__":
    main()
