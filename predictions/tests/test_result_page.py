from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.templatetags.static import static
from django.urls import reverse

from predictions.models import Prediction
from predictions.tests.history import make_scan
from predictions.tests.images import image_bytes

pytestmark = pytest.mark.django_db
CARD = {
    "version": "brainscan-test-1",
    "file": "brainscan.keras",
    "sha256": "ab" * 32,
    "architecture": "cnn",
    "parameters": 123456,
    "input_size": 192,
    "channels": 1,
    "class_names": ["glioma", "meningioma", "notumor", "pituitary"],
    "normal_class": "notumor",
    "temperature": 1.37,
    "risk_thresholds": {"medium": 0.05, "high": 0.62},
    "last_conv_layer": "last_conv",
    "metrics": {"validation": {"accuracy": 0.9412, "confusion_matrix": [[9, 1], [0, 10]]}},
    "operating_point": {
        "chosen_on": "validation",
        "at_medium": {"threshold": 0.05, "sensitivity": 0.995, "specificity": 0.81},
        "at_high": {"threshold": 0.62, "sensitivity": 0.93, "specificity": 0.99},
    },
    "training": {"epochs_run": 12, "history": {"loss": [1.0, 0.5]}},
}


@pytest.fixture
def card_dir(settings, tmp_path: Path) -> Path:
    """An installed model card in a temporary artifacts folder (no model file needed)."""
    settings.MODEL_PATH = tmp_path / "brainscan.keras"
    (tmp_path / "model_card.json").write_text(json.dumps(CARD), encoding="utf-8")
    return tmp_path


@pytest.fixture
def no_card(settings, tmp_path: Path) -> None:
    settings.MODEL_PATH = tmp_path / "absent" / "brainscan.keras"


def page(client, scan) -> str:
    """The page's HTML with runs of white space (no-break spaces too) as one space."""
    response = client.get(reverse("predictions:detail", args=[scan.pk]))
    assert response.status_code == 200
    return re.sub(r"\s+", " ", response.content.decode())


def test_result_shows_probabilities_risk_heatmap_and_disclaimer(
    clinician, clinician_client, card_dir
):
    scan = make_scan(clinician, label="glioma")

    html = page(clinician_client, scan)

    assert "Most likely class: <strong>Glioma</strong>" in html
    for name, percent in [
        ("Glioma", "91.0 %"),
        ("Meningioma", "5.0 %"),
        ("No tumour", "2.0 %"),
        ("Pituitary tumour", "2.0 %"),
    ]:
        assert re.search(rf'bar-label">{name}.*?bar-value">{percent}<', html)
    assert 'Glioma <span class="tag">predicted</span>' in html
    assert "High risk" in html
    assert "Tumour probability <strong>98.0 %</strong>" in html
    assert reverse("predictions:overlay-image", args=[scan.pk]) in html
    assert 'download="scan-' in html
    assert "data-brainscan-viewer" in html  # the viewer, with the gray heatmap to colour
    assert f'data-overlay="{reverse("predictions:heatmap-image", args=[scan.pk])}"' in html
    assert 'data-overlay-visible="true"' in html
    assert "Decision support, not a diagnosis." in html
    assert "<dd>Accepted as a brain MRI slice.</dd>" in html
    assert "Classifier" in html
    assert "55.5 ms" in html


def test_operating_point_sentence_comes_from_the_model_card(clinician, clinician_client, card_dir):
    html = page(clinician_client, make_scan(clinician))

    assert (
        "Risk is low below a tumour probability of 5 %, medium from 5 % and high from 62 %"
    ) in html
    assert "flagged 99.5 % of tumours" in html
    assert f'href="{reverse("predictions:model-card")}?version=brainscan-test-1"' in html


def test_without_a_model_card_the_page_says_so(clinician, clinician_client, no_card):
    html = page(clinician_client, make_scan(clinician))

    assert "No model card is installed" in html


def test_result_from_an_earlier_model_is_marked(clinician, clinician_client, card_dir):
    html = page(clinician_client, make_scan(clinician, model_version="brainscan-old-0"))

    assert "an earlier model than the one installed now" in html


def test_rejected_image_shows_the_reason_and_no_diagnosis(clinician, clinician_client, no_card):
    scan = make_scan(clinician, status=Prediction.Status.REJECTED)

    html = page(clinician_client, scan)

    assert "Not analysed: not recognised as a brain MRI slice" in html
    assert "This does not look like a brain MRI slice." in html
    assert "<dd>Refused: not recognised as a brain MRI slice.</dd>" in html
    assert "3.20 (a slice is accepted up to 1.00)" in html
    assert "bar-value" not in html
    assert "Tumour probability" not in html


def test_pending_result_polls_its_status(clinician, clinician_client, no_card):
    scan = make_scan(clinician, status=Prediction.Status.PENDING, finished_at=None)

    html = page(clinician_client, scan)

    assert f'data-status-url="{reverse("predictions:status", args=[scan.pk])}"' in html


@pytest.mark.parametrize(("view", "script"), [("detail", "js/result.js"), ("batch", "js/batch.js")])
def test_page_scripts_load_the_shared_helpers_first(
    clinician, clinician_client, no_card, view, script
):
    scan = make_scan(clinician, status=Prediction.Status.PENDING, finished_at=None)
    target = scan.pk if view == "detail" else scan.batch

    html = clinician_client.get(reverse(f"predictions:{view}", args=[target])).content.decode()

    helpers = f'<script src="{static("js/dom.js")}" defer></script>'  # hashed in production
    own = f'<script src="{static(script)}" defer></script>'
    assert helpers in html
    assert own in html
    assert html.index(helpers) < html.index(own)  # deferred scripts run in document order


def test_tiff_slices_are_shown_through_a_png_preview(clinician, clinician_client, no_card):
    scan = make_scan(clinician)
    scan.content_type = "image/tiff"
    scan.image.save("slice.tif", _content(image_bytes("TIFF", size=40)), save=True)

    html = page(clinician_client, scan)
    preview = clinician_client.get(reverse("predictions:scan-preview", args=[scan.pk]))

    assert reverse("predictions:scan-preview", args=[scan.pk]) in html
    assert preview.status_code == 200
    assert preview["Content-Type"] == "image/png"
    assert preview.content.startswith(b"\x89PNG")
    assert preview["Cache-Control"] == "private, no-store"


def _content(data: bytes):
    from django.core.files.base import ContentFile

    return ContentFile(data)


@pytest.mark.parametrize(
    "name", ["detail", "status", "scan-image", "scan-preview", "overlay-image", "heatmap-image"]
)
def test_another_clinician_gets_404_for_every_scan_url(clinician, other_client, name):
    scan = make_scan(clinician)

    assert other_client.get(reverse(f"predictions:{name}", args=[scan.pk])).status_code == 404


@pytest.mark.parametrize("name", ["batch", "batch-status"])
def test_another_clinician_gets_404_for_a_batch(clinician, other_client, name):
    scan = make_scan(clinician)

    assert other_client.get(reverse(f"predictions:{name}", args=[scan.batch])).status_code == 404


def test_model_card_page_renders_the_installed_card(clinician_client, card_dir):
    response = clinician_client.get(reverse("predictions:model-card"))
    html = re.sub(r"\s+", " ", response.content.decode())

    assert response.status_code == 200
    assert 'Model card <span class="muted">· brainscan-test-1</span>' in html
    assert "medium from 5.0 %, high from 62.0 % tumour probability" in html
    assert "<dt>Accuracy</dt><dd>94.1 %</dd>" in html  # a validation metric from the card
    assert "<td>9</td><td>1</td>" in html  # the confusion matrix as a table
    assert "Epochs run" in html
    assert "<dt>History</dt>" not in html  # per-epoch curves are left out


def test_model_card_page_leads_with_the_transfer_estimate_and_external_sources(
    clinician_client, card_dir
):
    def row(name, found, normals):
        alone = {"tumour_sensitivity_medium": found, "specificity_medium": normals}
        gate = {"value": 0.791, "ci95": [0.556, 0.944]}
        return {"description": name, "slices": 402, "people": 8, "gate_pass": gate,
                "model_alone": alone}  # fmt: skip

    card = dict(CARD)
    card["metrics"] = {
        "sources": {
            "test": row("Kaggle test", {"value": 0.999, "ci95": [0.996, 1.0]}, None),
            "brats": row("BraTS gliomas", {"value": 0.313, "ci95": [0.205, 0.448]}, None),
        }
    }
    card["transfer_estimate"] = {
        "summary": "Transfer estimate (leave one source out): the same recipe without IXI ...",
        "left_out_row": "ixi_all",
        "sources": {"ixi_all": row("IXI every person", None, {"value": 0.9, "ci95": [0.8, 1]})},
    }
    (card_dir / "model_card.json").write_text(json.dumps(card), encoding="utf-8")
    html = re.sub(r"\s+", " ", clinician_client.get(reverse("predictions:model-card")).text)

    section = html.split('id="results-by-source"', 1)[1].split("</section>", 1)[0]
    assert html.index('id="results-by-source"') < html.index('id="use-title"')
    assert "the same recipe without IXI ..." in section
    rows = re.findall(r'<th scope="row">([^<]+)</th>', section)
    assert rows == ["IXI every person — model trained without it", "BraTS gliomas", "Kaggle test"]
    assert "31.3 % (20.5–44.8)" in section
    assert "90.0 % (80.0–100.0)" in section
    assert "79.1 % (55.6–94.4)" in section


def test_model_card_page_without_source_results_has_no_empty_section(clinician_client, card_dir):
    html = clinician_client.get(reverse("predictions:model-card")).text

    assert "results-by-source" not in html


def test_model_card_page_names_the_version_of_an_older_result(clinician_client, card_dir):
    response = clinician_client.get(reverse("predictions:model-card"), {"version": "brainscan-0"})

    assert "was made by <strong>brainscan-0</strong>" in response.content.decode()


def test_model_card_page_without_a_model_says_none_is_installed(clinician_client, no_card):
    response = clinician_client.get(reverse("predictions:model-card"))

    assert response.status_code == 200
    assert "No model installed yet" in response.content.decode()


def test_a_broken_model_card_reads_as_no_model(clinician_client, settings, tmp_path):
    settings.MODEL_PATH = tmp_path / "brainscan.keras"
    (tmp_path / "model_card.json").write_text("{not json", encoding="utf-8")

    response = clinician_client.get(reverse("predictions:model-card"))

    assert "No model installed yet" in response.content.decode()


def test_an_unfamiliar_image_says_its_result_is_less_reliable(
    clinician, clinician_client, card_dir
):
    flagged = make_scan(clinician, label="glioma", unfamiliar=True, heatmap_class="glioma")
    usual = make_scan(clinician, label="glioma")

    assert "Unfamiliar image: this scan is farther" in page(clinician_client, flagged)
    assert 'id="unfamiliar-note"' not in page(clinician_client, usual)
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from api.serializers import scan_result

    request = Request(APIRequestFactory().get("/api/scans/1"))
    answer = scan_result(flagged, request)
    assert answer["unfamiliar"] is True
    assert answer["reliability_note"].startswith("Unfamiliar image")
    assert answer["heatmap_class"] == "glioma"
    assert scan_result(usual, request)["unfamiliar"] is False


def test_a_no_tumour_result_says_which_tumour_class_its_heatmap_shows(
    clinician, clinician_client, card_dir
):
    scan = make_scan(clinician, label="notumor", heatmap_class="meningioma")
    html = page(clinician_client, scan)
    assert "evidence for Meningioma, the most likely tumour class" in html
    assert 'although the answer is "no tumour"' in html


def test_a_no_tumour_heatmap_starts_hidden_and_the_page_says_why(
    clinician, clinician_client, card_dir
):
    """Issue 14: for a "no tumour" result the heatmap must not look like a lesion."""
    html = page(clinician_client, make_scan(clinician, label="notumor", heatmap_class="glioma"))
    assert 'data-overlay-visible="false"' in html
    assert 'The heatmap is hidden because the answer is "no tumour"' in html
    # On paper it is printed, said to be the evidence for a tumour class, not a lesion.
    assert 'the evidence for Glioma, not a lesion; the answer is "no tumour"' in html
    assert "the evidence for Glioma" in html

    tumour = page(clinician_client, make_scan(clinician, label="glioma", heatmap_class="glioma"))
    assert 'data-overlay-visible="true"' in tumour
    assert "heatmap-hidden-note" not in tumour


def test_the_viewer_script_loads_before_the_page_script(clinician, clinician_client, no_card):
    html = page(clinician_client, make_scan(clinician))
    viewer = f'<script src="{static("js/viewer.js")}" defer></script>'
    assert viewer in html
    assert html.index(viewer) < html.index(static("js/result.js"))
    assert f'href="{static("css/viewer.css")}"' in html


def test_the_printed_report_has_the_full_overlay_the_clinician_and_a_signature_area(
    clinician, clinician_client, no_card
):
    clinician.full_name = "Dr Alice Example"
    clinician.save()
    scan = make_scan(clinician)
    html = page(clinician_client, scan)
    prints = html[html.index('class="print-images print-only"') :]
    assert f'src="{reverse("predictions:overlay-image", args=[scan.pk])}"' in prints[:600]
    assert "Clinician: Dr Alice Example" in html
    assert "Signature:" in html
    # The status chip sits in a part the print stylesheet drops.
    assert re.search(r'<span class="no-print"> ·\s*<span class="status', html)


# "No confusing signals" (issue 14): no "100.0 %", the risk explained, the gate in words.


def test_no_probability_reads_as_certainty(clinician, clinician_client, no_card):
    probabilities = {"glioma": 0.99971, "meningioma": 0.00026, "notumor": 0.00003, "pituitary": 0}
    scan = make_scan(
        clinician,
        probabilities=probabilities,
        confidence=0.99971,
        tumour_probability=0.99997,
    )

    html = page(clinician_client, scan)

    assert "100.0 %" not in html
    assert "0.0 %" not in html
    assert (
        'Most likely class: <strong>Glioma</strong> <span class="muted">(&gt; 99.9 %)</span>'
        in html
    )
    assert "Tumour probability <strong>&gt; 99.9 %</strong>" in html
    assert re.search(r'bar-label">Meningioma.*?bar-value">&lt; 0.1 %<', html)
    assert re.search(r'bar-label">Pituitary tumour.*?bar-value">&lt; 0.1 %<', html)


def test_the_history_caps_the_displayed_confidence_too(clinician, clinician_client):
    make_scan(clinician, confidence=0.99999)

    html = re.sub(r"\s+", " ", clinician_client.get(reverse("predictions:dashboard")).text)

    assert "100.0 %" not in html
    assert "&gt; 99.9 %" in html


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "> 99.9 %"),
        (0.99951, "> 99.9 %"),
        (0.99949, "99.9 %"),
        (0.5, "50.0 %"),
        (0.0005, "0.1 %"),
        (0.00049, "< 0.1 %"),
        (0.0, "< 0.1 %"),
        (None, ""),
    ],
)
def test_probability_text_caps_at_both_ends(value, text):
    from predictions.presentation import probability_text

    assert probability_text(value).replace("\N{NO-BREAK SPACE}", " ") == text


def test_no_tumour_with_medium_risk_is_explained_in_one_sentence(
    clinician, clinician_client, card_dir
):
    probabilities = {"glioma": 0.06, "meningioma": 0.12, "notumor": 0.79, "pituitary": 0.03}
    scan = make_scan(
        clinician,
        label="notumor",
        probabilities=probabilities,
        confidence=0.79,
        tumour_probability=0.21,
        risk="medium",
    )

    html = page(clinician_client, scan)

    assert (
        '<p class="risk-explained" id="risk-explained">No tumour is the most likely class '
        "(79.0 %), but the three tumour classes together have 21.0 %, which is at least 5 % "
        "and below 62 %: hence medium risk.</p>"
    ) in html


@pytest.mark.parametrize(
    ("label", "risk", "tumour", "rule"),
    [
        (
            "glioma",
            "high",
            0.98,
            "The three tumour classes together have 98.0 %, which is at least 62 %: hence high risk.",
        ),
        (
            "notumor",
            "low",
            0.04,
            "but the three tumour classes together have 4.0 %, which is below the 5 % from which risk is medium: hence low risk.",
        ),
    ],
)
def test_the_risk_sentence_names_the_threshold_that_applies(
    clinician, clinician_client, card_dir, label, risk, tumour, rule
):
    scan = make_scan(clinician, label=label, risk=risk, tumour_probability=tumour)

    assert rule in page(clinician_client, scan)


def test_without_a_card_the_risk_sentence_says_the_thresholds_are_missing(
    clinician, clinician_client, no_card
):
    html = page(clinician_client, make_scan(clinician))

    assert "The three tumour classes together have 98.0 %: high risk (the model card" in html


def test_input_check_in_plain_words_and_technical_details_folded(
    clinician, clinician_client, no_card
):
    scan = make_scan(clinician)

    html = page(clinician_client, scan)

    assert "<dt>Input check</dt><dd>Accepted as a brain MRI slice.</dd>" in html
    folded = html[html.index('<details class="tech-details no-print" id="technical-details">') :]
    folded = folded[: folded.index("</details>")]
    before = html[: html.index('<details class="tech-details')]
    assert "<summary>Technical details</summary>" in folded
    assert "0.40 (a slice is accepted up to 1.00)" in folded
    assert scan.sha256 in folded
    assert "ab" * 32 in folded  # the model file's SHA-256, in full
    assert "55.5 ms" in folded
    assert "Classifier" in folded
    for hidden in ("score", scan.sha256, "ab" * 32, " ms<"):
        assert hidden not in before
