"""The IXI test rows say whose site they are from (ml.cli.evaluate_sources)."""

from __future__ import annotations

import json

from ml.artifacts import ARTIFACTS_DIR, DEFAULT_DATA, SPLITS_FILE
from ml.cli.evaluate_sources import SOURCE_NAMES, ixi_people_trained_on, source_description
from ml.data.sources import default_external


def test_only_a_model_trained_on_ixi_people_calls_the_test_people_its_own_site():
    assert source_description("ixi_test", 0) == SOURCE_NAMES["ixi_test"]
    assert "same site as the 102 IXI people trained on" in source_description("ixi_test", 102)
    assert source_description("brats", 102) == SOURCE_NAMES["brats"]


def test_the_people_trained_on_are_counted_from_the_train_split_only(tmp_path):
    external = default_external(DEFAULT_DATA)
    assert ixi_people_trained_on(tmp_path / "missing.json", external) == 0
    shipped = json.loads((ARTIFACTS_DIR / SPLITS_FILE).read_text())
    # the shipped split: 102 IXI people trained on, 18 more in validation, 65 test people
    assert ixi_people_trained_on(ARTIFACTS_DIR / SPLITS_FILE, external) == 102
    only_validation = tmp_path / "splits.json"
    only_validation.write_text(json.dumps({"train": [], "validation": shipped["validation"]}))
    assert ixi_people_trained_on(only_validation, external) == 0
