"""Record a leave-one-source-out run in the shipped model's card:

    python -m ml.cli.transfer --left-out ixi --report var/transfer/ixi/sources.json

`make evaluate-transfer` trains the shipped recipe without one source (`ml.cli.train
--exclude-source`), fits that model's gate, evaluates it with `ml.cli.evaluate_sources` on every
person of the left-out source, then runs this. The shipped card's `transfer_estimate` then
says what the recipe did at a site it never saw, and MODEL_CARD.md opens with it: the
honest estimate for a new hospital, which the shipped model's own rows (people of sites it
was trained on) cannot give.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ml.artifacts import ARTIFACTS_DIR, CARD_FILE, MODEL_CARD_MD, REPORTS_DIR
from ml.card import read_card, write_card
from ml.cli.markdown import interval_cell

CARD = ARTIFACTS_DIR / CARD_FILE
LEFT_OUT_ROW = {"ixi": "ixi_all"}
LEFT_OUT_NAME = {"ixi": "IXI healthy adults (Hammersmith Hospital, Philips 3 T, non-contrast T1)"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--left-out", choices=sorted(LEFT_OUT_ROW), required=True)
    p.add_argument("--report", type=Path, required=True, help="sources.json of the run")
    p.add_argument("--card", type=Path, default=CARD, help="the shipped model's card")
    p.add_argument("--command", default="make evaluate-transfer")
    p.add_argument("--reports", type=Path, default=REPORTS_DIR)
    p.add_argument("--card-md", type=Path, default=MODEL_CARD_MD)
    return p.parse_args(argv)


def estimate(
    left_out: str, report: dict[str, Any], run_card: dict[str, Any], command: str
) -> dict[str, Any]:
    """The card entry: the left-out source's row, every other row of the run, and one
    plain summary sentence that the card file and the web page both show as written."""
    rows = {
        name: {
            "description": s["description"],
            "slices": s["slices"],
            "people": s["people"],
            "gate_pass": s["gate_pass"],
            "model_alone": s["model_alone"],
            "analysed_metrics": s["analysed_metrics"],
        }
        for name, s in report["sources"].items()
    }
    left = rows[LEFT_OUT_ROW[left_out]]
    return {
        "status": "measured",
        "left_out": left_out,
        "left_out_row": LEFT_OUT_ROW[left_out],
        "run_model_sha256": report["sha256"],
        "run_trained_at": run_card.get("trained_at"),
        "run_epochs": run_card.get("training", {}).get("epochs_run"),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "sources": rows,
        "summary": summary(left_out, left, rows.get("brats")),
    }


def summary(left_out: str, left: dict[str, Any], brats: dict[str, Any] | None) -> str:
    """One paragraph: what a hospital the model never saw can expect, with intervals."""
    normals = left["model_alone"]["specificity_medium"]
    text = (
        f"Transfer estimate (leave one source out): the same recipe trained WITHOUT "
        f"{LEFT_OUT_NAME[left_out]} called {interval_cell(normals)} of that source's slices "
        f"({left['slices']} slices, {left['people']} people) no tumour at low risk "
        f"(model alone), and its input gate passed {interval_cell(left['gate_pass'])}."
    )
    if brats:
        found = brats["model_alone"]["tumour_sensitivity_medium"]
        text += (
            f" On BraTS/TCGA gliomas, which no model here was trained on, it found "
            f"{interval_cell(found)} of tumour slices (risk ≥ medium, model alone; gate pass "
            f"{interval_cell(brats['gate_pass'])})."
        )
    return text + " Intervals: 95 %, bootstrap over people."


def record(args: argparse.Namespace) -> dict[str, Any]:
    """Write the estimate into the shipped card and re-render ml/MODEL_CARD.md."""
    from ml.cli.evaluate import write_model_card_md

    report = json.loads(args.report.read_text(encoding="utf-8"))
    run_card_path = args.report.with_name(CARD_FILE)
    run_card = read_card(run_card_path) if run_card_path.exists() else {}
    if LEFT_OUT_ROW[args.left_out] not in report["sources"]:
        raise SystemExit(f"{args.report} has no {LEFT_OUT_ROW[args.left_out]} row")
    card = read_card(args.card)
    card["transfer_estimate"] = estimate(args.left_out, report, run_card, args.command)
    write_card(args.card, card)
    table = args.report.with_name("SOURCES.md")
    if table.exists():
        target = args.reports / f"TRANSFER-{args.left_out}.md"
        target.write_text(table.read_text(encoding="utf-8"), encoding="utf-8")
    write_model_card_md(args.card, args.reports / "comparison.json", args.card_md)
    transfer_estimate: dict[str, Any] = card["transfer_estimate"]
    return transfer_estimate


def main(argv: list[str] | None = None) -> None:
    print(record(parse_args(argv))["summary"])


if __name__ == "__main__":
    main()
