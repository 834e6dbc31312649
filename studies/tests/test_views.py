"""The study pages: upload (form and script), study page, slices, CSVs, history, delete."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from django.urls import reverse

from studies.models import Series, Study, StudySlice
from studies.tests.conftest import uploads
from studies.tests.series_files import nifti_volume, series_files, zipped

pytestmark = pytest.mark.django_db


def files_in(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def uploaded(clinician_client, study_engine, django_capture_on_commit_callbacks) -> Study:
    """A sagittal 3-D series uploaded as a folder and analysed (tasks run in-process)."""
    files = uploads(series_files("sagittal", slices=70, spacing=1.5))
    with django_capture_on_commit_callbacks(execute=True):
        response = clinician_client.post(
            reverse("studies:upload"), {"files": files, "case_reference": "tumour board 4"}
        )
    assert response.status_code == 302
    return Study.objects.get()


def test_a_folder_upload_becomes_a_study_page_with_summary_plot_and_browser(
    uploaded, clinician_client
):
    page = clinician_client.get(reverse("studies:detail", args=[uploaded.pk]))
    html = page.content.decode()

    assert page.status_code == 200
    assert uploaded.status == Study.Status.DONE
    assert "Study result" in html
    assert "Glioma" in html
    assert 'id="study-plot"' in html
    assert html.count('class="point') == uploaded.slices_analysed - html.count("rejected-tick")
    data = json.loads(
        html.split('id="slice-browser-data" type="application/json">')[1].split("</script>")[0]
    )
    assert len(data) == uploaded.slices_total
    assert [s["index"] for s in data] == sorted(s["index"] for s in data)
    flagged = [s for s in data if s["flagged"]]
    assert flagged
    assert all(s["heatmap"] for s in flagged)
    assert "3-D sagittal volume, reformatted to axial" in html
    assert "tumour board 4" in html


def test_slice_images_and_heatmaps_are_served_to_the_owner_only(
    uploaded, clinician_client, other_client, client
):
    flagged = uploaded.flagged_slices[0]
    image = reverse("studies:slice-image", args=[uploaded.pk, flagged])
    heatmap = reverse("studies:slice-heatmap", args=[uploaded.pk, flagged])

    own = clinician_client.get(image)
    assert own.status_code == 200
    assert own["Content-Type"] == "image/png"
    assert own["Cache-Control"] == "private, no-store"
    assert clinician_client.get(heatmap).status_code == 200
    for url in (
        image,
        heatmap,
        reverse("studies:detail", args=[uploaded.pk]),
        reverse("studies:status", args=[uploaded.pk]),
        reverse("studies:slices-csv", args=[uploaded.pk]),
    ):
        assert other_client.get(url).status_code == 404
        assert client.get(url).status_code == 302  # to sign in


def test_the_status_json_reports_progress(uploaded, clinician_client):
    body = clinician_client.get(reverse("studies:status", args=[uploaded.pk])).json()

    assert body["finished"] is True
    assert body["slices_analysed"] == body["slices_total"] == uploaded.slices_total
    assert body["label"] == "glioma"


def test_a_study_page_while_it_waits_shows_progress(
    clinician_client, clinician, monkeypatch, study_engine
):
    monkeypatch.setattr("studies.tasks.enqueue_study", lambda study_id: True)
    response = clinician_client.post(
        reverse("studies:upload"), {"files": uploads(series_files("axial", slices=6, spacing=6))}
    )
    study = Study.objects.get()

    page = clinician_client.get(response["Location"]).content.decode()

    assert 'id="study-pending"' in page
    assert f"0 of {study.slices_total} slices analysed" in page


def test_the_upload_page_offers_a_folder_a_zip_and_nifti(clinician_client):
    html = clinician_client.get(reverse("studies:upload")).content.decode()

    assert "webkitdirectory" in html
    assert ".nii" in html
    assert ".zip" in html


def test_the_script_upload_gets_json_and_a_zip_and_a_nifti_work(
    clinician_client, study_engine, django_capture_on_commit_callbacks
):
    archive = zipped(
        {f"S/{i}": f for i, f in enumerate(series_files("axial", slices=6, spacing=6))}
    )
    with django_capture_on_commit_callbacks(execute=True):
        first = clinician_client.post(
            reverse("studies:upload"),
            {"files": uploads([archive], ["study.zip"])},
            HTTP_ACCEPT="application/json",
        )
        second = clinician_client.post(
            reverse("studies:upload"),
            {"files": uploads([nifti_volume()], ["t1.nii.gz"])},
            HTTP_ACCEPT="application/json",
        )

    assert first.status_code == second.status_code == 201
    assert Study.objects.count() == 2
    nifti = Study.objects.get(pk=second.json()["id"])
    assert nifti.source_format == "NIfTI"
    assert nifti.status == Study.Status.DONE


def test_refused_uploads_leave_no_row_and_no_file(clinician_client, private_root, settings):
    settings.STUDY_MAX_SLICES = 5
    files = uploads(series_files("axial", slices=6, spacing=6.0))

    refused = clinician_client.post(reverse("studies:upload"), {"files": files})
    garbage = clinician_client.post(
        reverse("studies:upload"),
        {"files": uploads([b"just text"])},
        HTTP_ACCEPT="application/json",
    )
    settings.STUDY_MAX_BYTES = 1000
    too_big = clinician_client.post(
        reverse("studies:upload"), {"files": uploads(series_files("axial", slices=2, spacing=6))}
    )

    assert refused.status_code == 400
    assert "more than 5 slices" in refused.content.decode()
    assert garbage.status_code == 400
    assert "text file" in garbage.json()["error"]
    assert too_big.status_code == 413
    assert Study.objects.count() == Series.objects.count() == StudySlice.objects.count() == 0
    assert files_in(private_root) == []


def test_a_clinician_not_yet_approved_cannot_upload(pending_user, client):
    client.force_login(pending_user)

    response = client.post(reverse("studies:upload"), {"files": uploads([b"x"])})

    assert response.status_code == 403
    assert Study.objects.count() == 0


def test_the_per_slice_csv(uploaded, clinician_client):
    response = clinician_client.get(reverse("studies:slices-csv", args=[uploaded.pk]))
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))

    assert response["Content-Disposition"].startswith("attachment;")
    assert len(rows) == uploaded.slices_total
    flagged = [r for r in rows if r["flagged"] == "true"]
    assert [int(r["index"]) for r in flagged] == uploaded.flagged_slices
    assert all(float(r["tumour_probability"]) >= 0.2 for r in flagged)
    assert rows[0]["position_mm"].lstrip("-")[0].isdigit()  # numbers are not formula-guarded


def test_studies_in_the_history_and_the_study_csv_with_the_same_filters(uploaded, clinician_client):
    dashboard = clinician_client.get(reverse("predictions:dashboard")).content.decode()
    glioma = clinician_client.get(reverse("studies:export") + "?label=glioma")
    normal = clinician_client.get(reverse("studies:export") + "?label=notumor")
    listing = clinician_client.get(reverse("studies:list") + "?risk=high").content.decode()
    bad = clinician_client.get(reverse("studies:export") + "?date_from=9999-01-01")

    assert f"Study {uploaded.pk}" in dashboard
    rows = list(csv.DictReader(io.StringIO(b"".join(glioma.streaming_content).decode())))
    assert [int(r["study"]) for r in rows] == [uploaded.pk]
    assert rows[0]["risk"] == "high"
    assert rows[0]["case_reference"] == "tumour board 4"
    assert len(list(csv.reader(io.StringIO(b"".join(normal.streaming_content).decode())))) == 1
    assert f"Study {uploaded.pk}" in listing
    assert bad.status_code == 400


def test_deleting_a_study_from_its_page(
    uploaded, clinician_client, other_client, private_root, django_capture_on_commit_callbacks
):
    url = reverse("studies:delete", args=[uploaded.pk])
    assert other_client.post(url).status_code == 404

    with django_capture_on_commit_callbacks(execute=True):
        response = clinician_client.post(url)

    assert response.status_code == 302
    assert not Study.objects.exists()
    assert files_in(private_root) == []


def test_retention_purges_study_images_and_keeps_the_results(
    uploaded, clinician_client, private_root, settings, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from predictions.retention import purge_expired_images

    Study.objects.filter(pk=uploaded.pk).update(uploaded_at=timezone.now() - timedelta(days=40))
    with django_capture_on_commit_callbacks(execute=True):
        assert purge_expired_images(days=30) == 1
        assert purge_expired_images(days=30) == 0  # once

    study = Study.objects.get(pk=uploaded.pk)
    assert study.images_purged_at is not None
    assert study.risk == "high"  # the result stays
    assert files_in(private_root) == []
    page = clinician_client.get(reverse("studies:detail", args=[study.pk])).content.decode()
    assert 'id="images-purged"' in page
    assert 'id="slice-browser"' not in page
    assert (
        clinician_client.get(reverse("studies:slice-image", args=[study.pk, 0])).status_code == 404
    )


def test_the_admin_lists_and_shows_studies_read_only(uploaded, admin_client):
    listing = admin_client.get(reverse("admin:studies_study_changelist"))
    page = admin_client.get(reverse("admin:studies_study_change", args=[uploaded.pk]))

    assert listing.status_code == 200
    assert page.status_code == 200
    assert "3-D sagittal volume" in page.content.decode()
    assert admin_client.get(reverse("admin:studies_study_add")).status_code == 403
    changed = admin_client.post(reverse("admin:studies_study_change", args=[uploaded.pk]), {})
    assert changed.status_code == 403


def test_the_study_upload_checks_csrf_after_streaming_the_files(clinician):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(clinician)

    response = client.post(
        reverse("studies:upload"), {"files": uploads(series_files("axial", slices=3, spacing=6))}
    )

    assert response.status_code == 403
    assert Study.objects.count() == 0
