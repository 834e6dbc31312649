"""POST /api/studies, ?wait, GET a study and its slices, DELETE; other users get 404."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from api.schema import SCHEMA
from studies.models import Study
from studies.tests.conftest import uploads
from studies.tests.series_files import nifti_volume, series_files, zipped

pytestmark = pytest.mark.django_db


def files_in(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def posted(api_client, study_engine, django_capture_on_commit_callbacks):
    files = uploads(series_files("sagittal", slices=70, spacing=1.5))
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(reverse("api:studies"), {"files": files}, format="multipart")
    return response


def test_post_answers_202_with_the_status_url(posted):
    body = posted.json()

    assert posted.status_code == 202  # without ?wait, even though it ran in-process
    assert posted["Location"] == body["status_url"]
    assert body["status_url"].endswith(reverse("api:study-detail", args=[body["id"]]))


@pytest.mark.django_db(transaction=True)  # real commits: the task runs on commit
def test_wait_answers_200_with_the_result(api_client, study_engine, settings):
    settings.API_MAX_WAIT_SECONDS = 5
    files = uploads(series_files("sagittal", slices=70, spacing=1.5))

    response = api_client.post(
        reverse("api:studies") + "?wait=5", {"files": files}, format="multipart"
    )
    body = response.json()

    assert response.status_code == 200
    assert body["status"] == "done"
    assert body["label"] == "glioma"
    assert body["risk"] == "high"
    assert body["flagged_slices"]
    assert body["slices_analysed"] == body["slices_total"]
    [series] = body["series"]
    assert series["slices"] == body["slices_total"]
    assert series["skipped_reason"] is None
    assert body["rule"]["k"] == 2


def test_get_a_study_and_its_slices_paged(posted, api_client):
    study_id = posted.json()["id"]
    study = api_client.get(reverse("api:study-detail", args=[study_id])).json()
    first = api_client.get(reverse("api:study-slices", args=[study_id])).json()

    assert study["status"] == "done"
    assert first["count"] == study["slices_total"]
    assert len(first["results"]) == min(50, study["slices_total"])
    flagged = [s["index"] for s in first["results"] if s["flagged"]]
    assert flagged == [i for i in study["flagged_slices"] if i < 50]
    one = first["results"][flagged[0]]
    assert api_client.get(one["image_url"]).status_code == 200
    assert api_client.get(one["heatmap_url"]).status_code == 200


def test_another_user_gets_404_everywhere(posted, other_api_client):
    study_id = posted.json()["id"]
    for url in (
        reverse("api:study-detail", args=[study_id]),
        reverse("api:study-slices", args=[study_id]),
        reverse("api:study-slice-image", args=[study_id, 0]),
    ):
        assert other_api_client.get(url).status_code == 404
    assert other_api_client.delete(reverse("api:study-detail", args=[study_id])).status_code == 404
    assert other_api_client.get(reverse("api:studies")).json()["count"] == 0


def test_delete_removes_the_study_and_its_files(
    posted, api_client, private_root, django_capture_on_commit_callbacks
):
    study_id = posted.json()["id"]

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.delete(reverse("api:study-detail", args=[study_id]))

    assert response.status_code == 204
    assert not Study.objects.exists()
    assert files_in(private_root) == []
    assert api_client.get(reverse("api:study-detail", args=[study_id])).status_code == 404


def test_a_zip_and_a_nifti_through_the_api(api_client, study_engine):
    archive = zipped(
        {f"{i}.dcm": f for i, f in enumerate(series_files("axial", slices=5, spacing=6))}
    )

    zip_answer = api_client.post(
        reverse("api:studies"), {"files": uploads([archive], ["a.zip"])}, format="multipart"
    )
    nifti_answer = api_client.post(
        reverse("api:studies"),
        {"files": uploads([nifti_volume()], ["t1.nii.gz"])},
        format="multipart",
    )

    assert zip_answer.status_code == nifti_answer.status_code == 202
    assert nifti_answer.json()["source_format"] == "NIfTI"


def test_bad_uploads_are_json_errors_with_nothing_stored(api_client, private_root, settings):
    nothing = api_client.post(reverse("api:studies"), {}, format="multipart")
    garbage = api_client.post(
        reverse("api:studies"), {"files": uploads([b"plain text"])}, format="multipart"
    )
    settings.STUDY_MAX_VOXELS = 100
    too_big = api_client.post(
        reverse("api:studies"),
        {"files": uploads(series_files("axial", slices=3, spacing=6))},
        format="multipart",
    )

    assert nothing.status_code == 400
    assert "'files'" in nothing.json()["detail"]
    assert garbage.status_code == 400
    assert "text file" in garbage.json()["detail"]
    assert too_big.status_code == 413
    assert Study.objects.count() == 0
    assert files_in(private_root) == []


def test_the_schema_documents_every_study_endpoint():
    paths = SCHEMA["paths"]
    assert {"get", "post"} <= set(paths["/api/studies"])
    assert {"get", "delete"} <= set(paths["/api/studies/{study_id}"])
    assert "get" in paths["/api/studies/{study_id}/slices"]
    required = SCHEMA["components"]["schemas"]["StudyResult"]["required"]
    assert {"id", "status", "series", "slices_analysed"} <= set(required)
