"""The study worker: batches, progress, the study rule, and exactly-once completion."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from predictions.tests.fakes import REJECTED
from studies import services, tasks
from studies.models import Study, StudySlice
from studies.tasks import run_study
from studies.tests.conftest import Upload
from studies.tests.fakes import FakeStudyEngine
from studies.tests.series_files import series_files

pytestmark = pytest.mark.django_db


def stored(root: Path, folder: str = "studies") -> list[Path]:
    path = root / folder
    return [p for p in path.rglob("*") if p.is_file()] if path.exists() else []


def make_study(owner, monkeypatch, files=None) -> Study:
    """A stored, pending study (the queue is held so the test plays the worker)."""
    monkeypatch.setattr("studies.tasks.enqueue_study", lambda study_id: True)
    files = files or series_files("sagittal", slices=70, spacing=1.5)
    return services.submit_study(owner, services.read_upload([Upload(f) for f in files]))


def test_a_study_is_analysed_in_batches_with_its_rule_and_flagged_slices(
    clinician, monkeypatch, settings, private_root
):
    settings.STUDY_BATCH_SIZE = 8
    engine = FakeStudyEngine()
    monkeypatch.setattr("predictions.tasks._engine", lambda: engine)
    study = make_study(clinician, monkeypatch)
    total = study.slices_total

    run_study(study.pk)

    study.refresh_from_db()
    assert study.status == Study.Status.DONE
    assert study.slices_analysed == total
    assert engine.batches == [8] * (total // 8) + ([total % 8] if total % 8 else [])
    assert study.label == "glioma"
    assert study.risk == "high"
    assert study.flagged_slices  # the slices through the phantom's lesion
    positions = dict(StudySlice.objects.filter(study=study).values_list("index", "position_mm"))
    assert all(abs(positions[i] - 30.0) <= 12 for i in study.flagged_slices)
    assert set(study.driving_slices) <= set(study.flagged_slices)
    assert study.rule["k"] == 2
    assert study.rule["calibrated"] is False
    assert study.model_version == "fake-study-1"
    heatmaps = StudySlice.objects.filter(study=study).exclude(heatmap="").count()
    assert heatmaps == StudySlice.objects.filter(study=study, status="done").count()
    assert len(stored(private_root)) == total + heatmaps


def test_a_study_without_a_lesion_is_no_tumour_and_the_card_rule_is_used(clinician, monkeypatch):
    engine = FakeStudyEngine({"k": 3, "thresholds": {"medium": 0.3, "high": 0.6}})
    monkeypatch.setattr("predictions.tasks._engine", lambda: engine)
    files = series_files("axial", slices=8, spacing=6.0)  # z -21 to +21, acquired upwards
    study = make_study(clinician, monkeypatch, files[:4])  # the lower half: the lesion is at +30

    run_study(study.pk)

    study.refresh_from_db()
    assert study.status == Study.Status.DONE
    assert (study.label, study.risk) == ("notumor", "low")
    assert study.flagged_slices == []
    assert study.rule["k"] == 3
    assert study.rule["calibrated"] is True


def test_duplicate_delivery_analyses_once(clinician, monkeypatch, private_root):
    engine = FakeStudyEngine()
    monkeypatch.setattr("predictions.tasks._engine", lambda: engine)
    study = make_study(clinician, monkeypatch)

    run_study(study.pk)
    files = len(stored(private_root))
    run_study(study.pk)

    assert sum(engine.batches) == study.slices_total
    assert len(stored(private_root)) == files


def test_a_worker_killed_mid_study_is_finished_once_by_the_next(
    clinician, monkeypatch, settings, private_root
):
    settings.STUDY_BATCH_SIZE = 10
    study = make_study(clinician, monkeypatch)
    dying = FakeStudyEngine(fail_after=20)
    monkeypatch.setattr("predictions.tasks._engine", lambda: dying)

    with pytest.raises(SystemExit):
        run_study(study.pk)  # killed after two batches: the row stays RUNNING

    study.refresh_from_db()
    assert study.status == Study.Status.RUNNING
    assert study.slices_analysed == 20
    run_study(study.pk)  # a redelivery while the claim is fresh runs nothing
    assert Study.objects.get(pk=study.pk).attempts == 1

    Study.objects.filter(pk=study.pk).update(
        started_at=timezone.now() - timedelta(seconds=settings.PREDICTION_STALE_AFTER_SECONDS + 5)
    )
    assert tasks.requeue_stuck_studies() == 1  # the stale claim is found (queue held)
    survivor = FakeStudyEngine()
    monkeypatch.setattr("predictions.tasks._engine", lambda: survivor)
    run_study(study.pk)

    study.refresh_from_db()
    assert study.status == Study.Status.DONE
    assert study.attempts == 2
    assert sum(survivor.batches) == study.slices_total - 20  # only what was left
    assert study.slices_analysed == study.slices_total
    heatmaps = StudySlice.objects.filter(study=study).exclude(heatmap="").count()
    assert len(stored(private_root)) == study.slices_total + heatmaps


def test_the_recovery_sweep_queues_stale_and_lost_studies(clinician, monkeypatch, settings):
    study = make_study(clinician, monkeypatch)
    sent: list[int] = []
    monkeypatch.setattr("studies.tasks.enqueue_study", lambda i: sent.append(i) or True)
    Study.objects.filter(pk=study.pk).update(uploaded_at=timezone.now() - timedelta(hours=1))

    assert tasks.requeue_stuck_studies() == 1
    assert sent == [study.pk]


def test_a_study_whose_slices_are_all_rejected_says_so(clinician, monkeypatch):
    engine = FakeStudyEngine()
    engine._one = lambda image: REJECTED
    monkeypatch.setattr("predictions.tasks._engine", lambda: engine)
    study = make_study(clinician, monkeypatch, series_files("axial", slices=4, spacing=6.0))

    run_study(study.pk)

    study.refresh_from_db()
    assert study.status == Study.Status.REJECTED
    assert "input check" in study.error
    assert study.tumour_probability is None


def test_deleting_a_study_removes_every_file(
    clinician, monkeypatch, private_root, study_engine, django_capture_on_commit_callbacks
):
    study = make_study(clinician, monkeypatch)
    run_study(study.pk)
    assert stored(private_root)

    with django_capture_on_commit_callbacks(execute=True):
        services.delete_study(clinician, study)

    assert not Study.objects.filter(pk=study.pk).exists()
    assert StudySlice.objects.filter(study_id=study.pk).count() == 0
    assert stored(private_root) == []


def test_orphan_purge_removes_a_dead_workers_study_file_and_keeps_the_studys(
    clinician, monkeypatch, private_root, study_engine
):
    import os
    import time as clock

    from predictions.retention import purge_orphan_files

    study = make_study(clinician, monkeypatch, series_files("axial", slices=4, spacing=6.0))
    run_study(study.pk)
    orphan = private_root / "studies" / str(clinician.pk) / "dead-worker-heatmap.png"
    orphan.write_bytes(b"\x89PNG")
    old = clock.time() - 2 * 3600
    for path in stored(private_root):
        os.utime(path, (old, old))
    kept = set(stored(private_root)) - {orphan}

    assert purge_orphan_files() == 1
    assert set(stored(private_root)) == kept
