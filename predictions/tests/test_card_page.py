"""The model card page for clinicians (issue 14): intended use and known limits first, class
names instead of numbers, confusion matrices labelled row = true class, column = predicted,
no server paths anywhere on the page, training details folded at the end. Checked on the
shipped card (ml/artifacts/model_card.json), which was written on the training machine and
holds its paths."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from django.urls import reverse

from ml.artifacts import ARTIFACTS_DIR
from predictions.card_page import matrix, scrub

SHIPPED_CARD = ARTIFACTS_DIR / "model_card.json"


@pytest.fixture
def shipped_card(settings, tmp_path: Path) -> dict:
    settings.MODEL_PATH = tmp_path / "brainscan.keras"
    shutil.copy(SHIPPED_CARD, tmp_path / "model_card.json")
    return json.loads(SHIPPED_CARD.read_text(encoding="utf-8"))


def page(client) -> str:
    response = client.get(reverse("predictions:model-card"))
    assert response.status_code == 200
    return re.sub(r"\s+", " ", response.content.decode())


def test_the_shipped_card_really_holds_server_paths():
    text = SHIPPED_CARD.read_text(encoding="utf-8")  # else the next test would prove nothing
    assert "/work/" in text
    assert ".keras" in text
    assert "var/" in text


def test_no_server_path_reaches_the_page(clinician_client, shipped_card):
    html = page(clinician_client)

    for path in ("/work/", "/home/", "var/", ".keras", "../shared", "ml/reports", "splits.json"):
        assert path not in html, path
    assert "python -m" not in html  # commands are for the machine, not the clinician


def test_intended_use_and_known_limits_come_first_and_training_details_last(
    clinician_client, shipped_card
):
    html = page(clinician_client)
    order = [
        'id="intended-use"',
        'id="known-limits"',
        'id="results-by-source"',
        'id="use-title"',
        'id="performance"',
        'id="summary-title"',
        'id="training-details"',
    ]
    positions = [html.index(marker) for marker in order]

    assert positions == sorted(positions)
    assert html.index("<h1") < positions[0]
    assert "<strong>It is not a diagnostic device" in html
    assert "Not for: 3-D volumes" in html
    assert "<strong>Source shortcut</strong>" in html
    assert "treat it as leak-<em>reduced</em>." in html
    assert "the leak-free subset has only 18 notumor images" in html
    folded = html.split('id="training-details"', 1)[1]
    assert "<details>" in folded.split("</section>", 1)[0] + folded
    assert "Epochs run" in folded.split("</details>", 1)[0]
    assert "Epochs run" not in html.split('id="training-details"', 1)[0]


def test_class_names_instead_of_numbers(clinician_client, shipped_card):
    html = page(clinician_client)

    assert "Glioma, Meningioma, No tumour, Pituitary tumour (the normal class: No tumour)" in html
    performance = html.split('id="performance"', 1)[1].split('id="summary-title"', 1)[0]
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th>', performance)
    assert rows[:4] == ["Glioma", "Meningioma", "No tumour", "Pituitary tumour"]
    for number in ("Auc 0", "Precision 1", "F1 2", "Recall 3", "auc_0", "f1_3"):
        assert number not in html


def test_confusion_matrices_are_labelled_true_by_predicted(clinician_client, shipped_card):
    html = page(clinician_client)
    test = html.split('id="performance-test"', 1)[1].split("</section>", 1)[0]
    table = test.split('<table class="matrix">', 1)[1].split("</table>", 1)[0]
    names = ["Glioma", "Meningioma", "No tumour", "Pituitary tumour"]
    cm = shipped_card["metrics"]["test"]["confusion_matrix"]

    assert "each row is the true class, each column the class the model predicted" in table
    assert re.findall(r'<th scope="col">([^<]+)</th>', table) == names
    for name, row in zip(names, cm, strict=True):
        cells = "".join(f"<td>{n}</td>" for n in row)
        assert f'<tr><th scope="row">{name}</th>{cells}</tr>' in table
    # Every split's matrix on the page is labelled: no bare grid of numbers.
    assert html.count('<table class="matrix">') == html.count("True ↓ · predicted →")
    assert html.count('<table class="matrix">') >= 3


def test_scrub_cuts_paths_out_of_sentences_and_keeps_the_words():
    assert scrub("IXI split by person (ml/sources.py); Kaggle Testing/ untouched") == (
        "IXI split by person ; Kaggle Testing/ untouched"
    )
    assert scrub("/work/shared/datasets/brain-tumor-mri") == ""
    assert (
        scrub("python -m x --data ../shared/d --model brainscan.keras")
        == "python -m x --data --model"
    )
    assert (
        scrub("train/validation, 56 img/s, SARTAJ / Br35H")
        == "train/validation, 56 img/s, SARTAJ / Br35H"
    )
    assert scrub("cached under var/cache/x") == "cached under"


def test_a_matrix_that_does_not_fit_the_class_names_is_labelled_by_number():
    table = matrix([[9, 1], [0, 10]], ["Glioma", "Meningioma", "No tumour", "Pituitary tumour"])

    assert table is not None
    assert table.labels == ["Class 1", "Class 2"]
    assert table.rows == [("Class 1", ["9", "1"]), ("Class 2", ["0", "10"])]
    assert matrix([[1, 2, 3], [4, 5]], []) is None
