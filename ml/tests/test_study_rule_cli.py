"""The study-rule command on a tiny external set and the tiny real model: pseudo-studies by
person ordered by z, the IXI split honoured, a rule chosen and written to the card."""

from __future__ import annotations

import csv
import json

import cv2

from ml.card import read_card
from ml.cli import study_rule
from ml.data.sources import BRATS_DIR, IXI_DIR, ixi_items, split_people
from ml.testing import mri_like, write_tiny_artifacts


def _write_set(root, folder, rows):
    (root / folder / "images").mkdir(parents=True)
    with (root / folder / "manifest.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(
            f, fieldnames=["file", "patient_id", "z_index", "sequence", "label"]
        )
        writer.writeheader()
        for row in rows:
            cv2.imwrite(str(root / folder / row["file"]), mri_like(64, seed=row.pop("seed")))
            writer.writerow(row)


def test_the_command_chooses_a_rule_and_writes_report_and_card(tmp_path):
    external = tmp_path / "external"
    ixi = [
        {"file": f"images/IXI{p:03d}_z{z:03d}.png", "patient_id": f"IXI{p:03d}", "z_index": z,
         "sequence": "T1", "label": "notumor", "seed": 100 * p + z}
        for p in range(12) for z in (60, 40, 50, 30)
    ]  # fmt: skip
    brats = [
        {"file": f"images/b{p}_{q}_{z}.png", "patient_id": f"b{p}", "z_index": z, "sequence": q,
         "label": "glioma", "seed": 5000 + 10 * p + z}
        for p in range(2) for q in ("T1c", "FLAIR") for z in (1, 4, 7, 10)
    ]  # fmt: skip
    _write_set(external, IXI_DIR, ixi)
    _write_set(external, BRATS_DIR, brats)
    model = write_tiny_artifacts(tmp_path / "artifacts")
    out = tmp_path / "reports"

    studies = study_rule.pseudo_studies(external, 2)
    result = study_rule.main(
        ["--model", str(model), "--data", str(tmp_path / "kaggle"), "--external", str(external),
         "--out", str(out), "--update-card"]
    )  # fmt: skip

    ixi_studies = [s for s in studies if s.source == "ixi"]
    assert len(ixi_studies) == 12
    assert [z for z, _ in ixi_studies[0].series["T1"]] == [30, 40, 50, 60]  # by z, not by file
    parts = {
        p.person: part for part, items in split_people(ixi_items(external)).items() for p in items
    }
    assert all(s.part == parts[s.person] for s in ixi_studies)
    brats_study = next(s for s in studies if s.source == "brats")
    assert [z for z, _ in brats_study.series["T1c"]] == [1, 7]  # every second slice
    assert result["rule"]["k"] in study_rule.KS
    assert result["rule"]["thresholds"]["medium"] >= 0.2
    assert "ixi_test" in result["results"]
    assert "brats_external" in result["results"]
    card = read_card(model.with_name("model_card.json"))
    assert card["study_rule"]["k"] == result["rule"]["k"]
    assert (out / "STUDY-RULE.md").read_text().startswith("# Study rule")
    assert json.loads((out / "study_rule.json").read_text())["rule"] == result["rule"]
