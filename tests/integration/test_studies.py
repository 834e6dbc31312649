"""Whole studies through Redis and real `celery worker` processes on MySQL/MariaDB: a study
upload is analysed once, and a worker SIGKILLed mid-study leaves a study that the next
worker finishes exactly once, analysing only the slices that were left.

The study is 400 thick axial slices (8 series of 50, used as acquired), analysed one slice
per batch (STUDY_BATCH_SIZE=1), so a kill lands mid-study.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from studies.models import Study, StudySlice
from studies.tests.series_files import series_files
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration
STALE = 3


@pytest.fixture
def tiny_model(tmp_path) -> Path:
    from ml.testing import write_tiny_artifacts

    return write_tiny_artifacts(tmp_path / "model")


def upload_study(client, series: int = 8, slices: int = 50) -> Study:
    files = []
    for _ in range(series):
        files += series_files("axial", slices=slices, spacing=3.0, pixel=0.6, size=256)
    uploads = [SimpleUploadedFile(f"IM{i:05d}", data) for i, data in enumerate(files)]
    response = client.post(reverse("studies:upload"), {"files": uploads})
    assert response.status_code == 302, response.content[:500]
    return Study.objects.order_by("-pk")[0]


def fresh(study: Study) -> Study:
    return Study.objects.get(pk=study.pk)


def heatmaps_on_disk(private_root: Path) -> set[str]:
    folder = private_root / "studies"
    return (
        {str(p.relative_to(private_root)) for p in folder.rglob("*-heatmap.png")}
        if folder.exists()
        else set()
    )


def test_a_study_is_analysed_once_by_a_worker(
    clinician_client, flush_queue, start_worker, tiny_model, private_root
):
    start_worker(model_path=tiny_model)
    study = upload_study(clinician_client, series=2, slices=20)

    wait_for(lambda: fresh(study).is_finished, timeout=120)

    done = fresh(study)
    assert done.status in (Study.Status.DONE, Study.Status.REJECTED), done.error
    assert done.attempts == 1
    assert done.slices_analysed == done.slices_total == 40
    assert not StudySlice.objects.filter(study=done, status=StudySlice.Status.PENDING).exists()


def test_worker_killed_mid_study_then_the_next_finishes_it_once(
    clinician_client, flush_queue, start_worker, tiny_model, private_root
):
    env = {"PREDICTION_STALE_AFTER_SECONDS": str(STALE), "STUDY_BATCH_SIZE": "1"}
    first = start_worker(model_path=tiny_model, name="doomed", **env)
    study = upload_study(clinician_client)
    total = fresh(study).slices_total
    assert total == 400

    wait_for(lambda: 10 <= fresh(study).slices_analysed <= total - 100, timeout=120, interval=0.02)
    first.kill()  # SIGKILL mid-study

    killed = fresh(study)
    assert killed.status == Study.Status.RUNNING
    analysed_before = StudySlice.objects.filter(study=study).exclude(status="pending").count()
    assert analysed_before < total
    delay = STALE + 0.5 - (timezone.now() - killed.started_at).total_seconds()
    if delay > 0:
        time.sleep(delay)
    start_worker(model_path=tiny_model, name="successor", **env)  # its start-up sweep
    wait_for(lambda: fresh(study).is_finished, timeout=180)

    done = fresh(study)
    assert done.status in (Study.Status.DONE, Study.Status.REJECTED), done.error
    assert done.attempts == 2
    assert done.slices_analysed == total
    assert done.timings["slices_this_attempt"] == total - analysed_before  # only what was left
    assert not StudySlice.objects.filter(study=study, status="pending").exists()
    referenced = set(
        StudySlice.objects.filter(study=study).exclude(heatmap="").values_list("heatmap", flat=True)
    )
    on_disk = heatmaps_on_disk(private_root)
    assert referenced <= on_disk
    # At most the one heatmap the killed worker had written but not recorded (the daily
    # orphan purge removes it); never a second result for a slice.
    assert len(on_disk - referenced) <= 1
