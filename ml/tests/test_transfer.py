"""Leave one source out: every person of the left-out source is tested, never one it was
trained on, and the shipped card (file and Markdown) opens with the measured estimate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ml.cli.evaluate_sources import _ixi, refuse_trained_on
from ml.cli.transfer import parse_args, record, summary
from ml.data.sources import Item
from ml.tests.source_rows import source_row

REPO = Path(__file__).resolve().parents[2]


def _items(n_people: int) -> list[Item]:
    return [
        Item(f"ixi/IXI{p:03d}-z{z}.png", Path(f"IXI{p:03d}-z{z}.png"), 2, "ixi", f"IXI{p:03d}")
        for p in range(n_people)
        for z in range(3)
    ]


def test_all_ixi_people_replace_the_test_people_of_the_split():
    items = _items(40)
    test = _ixi(items, "test")["ixi_test"]
    assert 0 < len({i.person for i in test}) < 40
    assert _ixi(items, "all") == {"ixi_all": items}


def test_a_model_trained_on_any_of_the_people_is_refused(tmp_path):
    items = _items(5)
    splits = tmp_path / "splits.json"
    splits.write_text(json.dumps({"train": ["Training/glioma/a.jpg"], "val": []}))
    refuse_trained_on({"ixi_all": items}, splits)  # no IXI trained on: fine
    splits.write_text(json.dumps({"train": [items[4].key], "val": []}))
    with pytest.raises(SystemExit, match="ixi_all: 1 images were trained on"):
        refuse_trained_on({"ixi_all": items}, splits)


def _report() -> dict[str, Any]:
    normals = [2] * 4
    return {
        "model": "brainscan-cnn-9",
        "sha256": "cd" * 32,
        "sources": {
            "ixi_all": source_row(
                "ixi_all", normals, [0.1, 0.1, 0.1, 0.9], [True] * 4, list("abcd")
            ),
            "brats": source_row("brats", [0, 0], [0.9, 0.1], [True, False], ["p", "q"]),
        },
    }


def test_the_summary_gives_the_left_out_source_and_the_external_gliomas_with_intervals():
    r = _report()["sources"]
    text = summary("ixi", r["ixi_all"], r["brats"])
    assert "WITHOUT IXI" in text
    assert "called 75.0 % (" in text  # 3 of 4 normals at low risk
    assert "(4 slices, 4 people)" in text
    assert "found 50.0 % (" in text  # 1 of 2 gliomas at risk >= medium
    assert "gate pass 50.0 % (" in text


def test_recording_writes_the_estimate_into_the_shipped_card_and_leads_its_markdown(tmp_path):
    card = tmp_path / "model_card.json"
    shutil.copy(REPO / "ml" / "artifacts" / "model_card.json", card)
    run = tmp_path / "run"
    run.mkdir()
    (run / "sources.json").write_text(json.dumps(_report()))
    (run / "SOURCES.md").write_text("# Evaluation by source\n")
    (run / "model_card.json").write_text(json.dumps({"trained_at": "t0", "training": {}}))
    args = parse_args(
        ["--left-out", "ixi", "--report", str(run / "sources.json"), "--card", str(card),
         "--reports", str(tmp_path), "--card-md", str(tmp_path / "MODEL_CARD.md")]
    )  # fmt: skip
    estimate = record(args)
    stored = json.loads(card.read_text())["transfer_estimate"]
    assert stored == estimate
    assert stored["status"] == "measured"
    assert stored["run_model_sha256"] == "cd" * 32
    assert stored["sources"]["ixi_all"]["people"] == 4
    assert (tmp_path / "TRANSFER-ixi.md").read_text() == "# Evaluation by source\n"
    md = (tmp_path / "MODEL_CARD.md").read_text()
    section = md.split("## Results by source (read this first)", 1)[1]
    assert section.strip().startswith(stored["summary"])


def test_a_report_without_the_left_out_source_is_refused(tmp_path):
    report = _report()
    del report["sources"]["ixi_all"]
    (tmp_path / "sources.json").write_text(json.dumps(report))
    args = parse_args(["--left-out", "ixi", "--report", str(tmp_path / "sources.json")])
    with pytest.raises(SystemExit, match="no ixi_all row"):
        record(args)
