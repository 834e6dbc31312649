"""Architecture comparison table from short training runs.

python -m ml.cli.compare RUN_DIR... [--out ml/reports]: reads each run's model_card.json
(written by ml.cli.train) and writes comparison.json + COMPARISON.md. Runs are compared on
validation data only; the test sets are not used to choose the architecture.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ml.artifacts import CARD_FILE, REPORTS_DIR
from ml.card import read_card
from ml.cli.markdown import table

REPORTS = REPORTS_DIR


def run_row(run_dir: Path) -> dict[str, Any]:
    card = read_card(run_dir / CARD_FILE)
    t, v = card["training"], card["metrics"]["validation"]
    return {
        "run": run_dir.name,
        "architecture": card["architecture"],
        "input_size": card["input_size"],
        "parameters": card["parameters"],
        "budget_minutes": t["config"]["budget_minutes"],
        "epochs_run": t["epochs_run"],
        "best_epoch": t["best_epoch"],
        "fit_wall_seconds": t["fit_wall_seconds"],
        "images_per_second": t["images_per_second"],
        "best_val_loss": min(t["history"]["val_loss"]),
        "val_accuracy": v["accuracy"],
        "val_macro_f1": v["macro_f1"],
        "val_tumour_auc": v["tumour_auc"],
        "val_ece_after": card["calibration"]["ece_after"],
    }


def markdown(rows: list[dict[str, Any]], note: str = "") -> str:
    text = table(
        [
            "arch",
            "px",
            "params",
            "budget",
            "epochs",
            "img/s",
            "best val loss (during fit)",
            "val acc",
            "val macro-F1",
            "val tumour AUC",
        ],
        [
            [
                r["architecture"],
                r["input_size"],
                f"{r['parameters'] / 1e6:.2f} M",
                f"{r['budget_minutes']:g} min",
                r["epochs_run"],
                f"{r['images_per_second']:.0f}",
                f"{r['best_val_loss']:.4f}",
                f"{r['val_accuracy']:.2%}",
                f"{r['val_macro_f1']:.4f}",
                f"{r['val_tumour_auc']:.4f}",
            ]
            for r in rows
        ],
    )
    return f"""# Architecture comparison

Short runs of `python -m ml.train` with the same split, seed, augmentation and budget-tied
warmup + cosine schedule, compared on the validation split (never on the test sets).
The machine's two cores were shared with other jobs during these runs, so img/s is lower
than on an idle machine and equal budgets mean equal wall time, not equal work.

{text}
{note}
"""


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--out", type=Path, default=REPORTS)
    p.add_argument("--note", default="", help="free text appended under the table")
    args = p.parse_args(argv)
    rows = [run_row(r) for r in args.runs]
    (args.out / "comparison.json").write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    text = markdown(rows, args.note)
    (args.out / "COMPARISON.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
