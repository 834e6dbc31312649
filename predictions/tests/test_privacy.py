"""Deleting a scan and the retention purge: the files are gone from disk, the right rows stay."""

from __future__ import annotations

import os
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from predictions import retention, services
from predictions.models import Prediction, Scan
from predictions.tests.images import png_bytes
from predictions.uploads import validate_upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def analysed(clinician, fake_engine, django_capture_on_commit_callbacks):
    """Make finished scans the way production does: upload, then the (fake) analysis."""

    def make(owner=None, *, age_days: int = 0) -> Scan:
        upload = validate_upload(png_bytes(), max_bytes=10**6, max_pixels=10**6)
        with django_capture_on_commit_callbacks(execute=True):
            [prediction] = services.submit_scans(owner or clinician, [upload])
        Scan.objects.filter(pk=prediction.scan_id).update(
            uploaded_at=timezone.now() - timedelta(days=age_days)
        )
        return Scan.objects.select_related("prediction").get(pk=prediction.scan_id)

    return make


def paths(scan: Scan, root: Path) -> list[Path]:
    prediction = scan.prediction
    return [root / (f.name or "") for f in (scan.image, prediction.heatmap, prediction.overlay)]


def all_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


# --- deletion ------------------------------------------------------------------------------


def test_deleting_a_scan_removes_its_rows_and_its_three_files(
    clinician, analysed, private_root, django_capture_on_commit_callbacks
):
    scan, kept = analysed(), analysed()
    files = paths(scan, private_root)
    assert all(p.is_file() for p in files)

    with django_capture_on_commit_callbacks(execute=True):
        retention.delete_scan(clinician, scan)

    assert not Scan.objects.filter(pk=scan.pk).exists()
    assert not Prediction.objects.filter(scan_id=scan.pk).exists()
    assert not any(p.exists() for p in files)
    assert all_files(private_root) == set(paths(kept, private_root))


def test_a_rolled_back_deletion_keeps_the_files(
    clinician, analysed, private_root, django_capture_on_commit_callbacks
):
    scan = analysed()
    scan_id, files = scan.pk, paths(scan, private_root)

    def delete_then_fail() -> None:
        with transaction.atomic():
            retention.delete_scan(clinician, scan)
            raise RuntimeError("something later in the same transaction failed")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        delete_then_fail()

    assert Scan.objects.filter(pk=scan_id).exists()
    assert all(p.is_file() for p in files)


def test_files_go_whatever_deletes_the_rows(
    analysed, private_root, django_capture_on_commit_callbacks
):
    """A queryset delete (as the admin's bulk action or a shell does) takes the files too."""
    scans = [analysed(), analysed()]

    with django_capture_on_commit_callbacks(execute=True):
        Scan.objects.filter(pk__in=[s.pk for s in scans]).delete()

    assert Scan.objects.count() == 0
    assert all_files(private_root) == set()


def test_only_the_owner_can_delete_a_scan(reviewer, analysed, private_root):
    scan = analysed()

    with pytest.raises(PermissionDenied):
        retention.delete_scan(reviewer, scan)

    assert Scan.objects.filter(pk=scan.pk).exists()


def test_result_page_offers_deletion_to_the_owner_only(clinician_client, reviewer_client, analysed):
    scan = analysed()
    delete_url = reverse("predictions:delete", args=[scan.pk])

    assert (
        delete_url
        in clinician_client.get(reverse("predictions:detail", args=[scan.pk])).content.decode()
    )
    assert (
        delete_url
        not in reviewer_client.get(reverse("predictions:detail", args=[scan.pk])).content.decode()
    )


def test_delete_asks_for_confirmation_then_deletes_on_post(
    clinician_client, analysed, private_root, django_capture_on_commit_callbacks
):
    scan = analysed()
    url = reverse("predictions:delete", args=[scan.pk])

    confirm = clinician_client.get(url)
    assert confirm.status_code == 200
    assert f"Delete scan {scan.pk} permanently" in confirm.content.decode()
    assert Scan.objects.filter(pk=scan.pk).exists()  # a GET deletes nothing

    with django_capture_on_commit_callbacks(execute=True):
        response = clinician_client.post(url, follow=True)

    assert response.redirect_chain[-1][0] == reverse("predictions:dashboard")
    assert f"Scan {scan.pk} was deleted" in response.content.decode()
    assert not Scan.objects.filter(pk=scan.pk).exists()
    assert all_files(private_root) == set()


def test_other_clinicians_get_404_and_reviewers_403_and_nothing_is_deleted(
    other_client, reviewer_client, client, analysed
):
    scan = analysed()
    url = reverse("predictions:delete", args=[scan.pk])

    assert other_client.post(url).status_code == 404
    assert reviewer_client.post(url).status_code == 403
    assert client.post(url).status_code == 302  # anonymous: to the sign-in page
    assert Scan.objects.filter(pk=scan.pk).exists()


# --- retention -----------------------------------------------------------------------------


def test_purge_deletes_old_images_but_keeps_the_result_row(analysed, private_root):
    old, recent = analysed(age_days=31), analysed(age_days=29)

    purged = retention.purge_expired_images(days=30)

    old.refresh_from_db()
    old.prediction.refresh_from_db()
    assert purged == 1
    assert old.image_purged_at is not None
    assert not old.image
    assert not old.prediction.heatmap
    assert not old.prediction.overlay
    assert old.prediction.label == "glioma"  # the result stays for statistics
    assert old.prediction.status == Prediction.Status.DONE
    recent.refresh_from_db()
    assert recent.image_purged_at is None
    assert all(p.is_file() for p in paths(recent, private_root))


def test_purged_files_are_gone_from_disk_after_the_commit(
    analysed, private_root, django_capture_on_commit_callbacks
):
    old, recent = analysed(age_days=40), analysed(age_days=1)
    old_files = paths(old, private_root)

    with django_capture_on_commit_callbacks(execute=True):
        retention.purge_expired_images(days=30)

    assert not any(p.exists() for p in old_files)
    assert all_files(private_root) == set(paths(recent, private_root))


def test_purge_is_idempotent_and_waits_for_unfinished_analyses(analysed, clinician):
    analysed(age_days=40)
    pending = analysed(age_days=40)
    Prediction.objects.filter(scan=pending).update(status=Prediction.Status.PENDING)

    assert retention.purge_expired_images(days=30) == 1
    assert retention.purge_expired_images(days=30) == 0
    pending.refresh_from_db()
    assert pending.image_purged_at is None
    assert pending.image


def test_retention_is_off_by_default(analysed, settings):
    settings.SCAN_RETENTION_DAYS = 0
    scan = analysed(age_days=10_000)

    assert retention.purge_expired_images() == 0
    scan.refresh_from_db()
    assert scan.image_purged_at is None


def test_purgeimages_command_uses_the_setting(analysed, settings):
    settings.SCAN_RETENTION_DAYS = 30
    analysed(age_days=31)
    out = StringIO()

    call_command("purgeimages", stdout=out)

    assert "Purged the images of 1 scan(s) older than 30 days." in out.getvalue()
    assert Scan.objects.filter(image_purged_at__isnull=False).count() == 1


def test_purgeimages_command_says_when_retention_is_off(analysed, settings):
    settings.SCAN_RETENTION_DAYS = 0
    analysed(age_days=31)
    out = StringIO()

    call_command("purgeimages", stdout=out)

    assert "Retention is off" in out.getvalue()
    assert Scan.objects.filter(image_purged_at__isnull=False).count() == 0


def test_celery_beat_runs_the_purge_task(analysed, settings):
    from brainscan.celery import app
    from predictions.tasks import run_retention_purge

    entry = settings.CELERY_BEAT_SCHEDULE["purge-expired-images"]
    assert entry["task"] == run_retention_purge.name
    assert entry["task"] in app.tasks
    assert settings.CELERY_BEAT_SCHEDULE["purge-orphan-files"]["task"] in app.tasks
    settings.SCAN_RETENTION_DAYS = 7
    analysed(age_days=8)

    assert run_retention_purge() == 1


def test_pages_of_a_purged_scan_say_so_instead_of_failing(clinician_client, analysed):
    scan = analysed(age_days=100)
    retention.purge_expired_images(days=30)

    detail = clinician_client.get(reverse("predictions:detail", args=[scan.pk]))

    assert detail.status_code == 200
    assert "Image purged" in detail.content.decode()
    assert reverse("predictions:overlay-image", args=[scan.pk]) not in detail.content.decode()
    for name in ("scan-image", "overlay-image", "heatmap-image"):
        assert (
            clinician_client.get(reverse(f"predictions:{name}", args=[scan.pk])).status_code == 404
        )
    assert clinician_client.get(reverse("predictions:status", args=[scan.pk])).status_code == 200
    assert clinician_client.get(reverse("predictions:batch", args=[scan.batch])).status_code == 200
    assert clinician_client.get(reverse("predictions:dashboard")).status_code == 200


def test_a_purged_scan_can_still_be_deleted(
    clinician, analysed, django_capture_on_commit_callbacks
):
    scan = analysed(age_days=100)
    retention.purge_expired_images(days=30)
    scan.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        retention.delete_scan(clinician, scan)

    assert not Scan.objects.filter(pk=scan.pk).exists()


# --- orphans -------------------------------------------------------------------------------


def test_orphan_files_older_than_the_grace_period_are_removed(analysed, private_root):
    scan = analysed()
    kept = set(paths(scan, private_root))
    orphan = private_root / "results" / str(scan.owner_id) / "dead-worker-heatmap.png"
    fresh = private_root / "scans" / str(scan.owner_id) / "upload-in-progress.png"
    outside = private_root / "notes.txt"  # not a folder brainscan writes scans to
    for path in (orphan, fresh, outside):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png_bytes())
    two_hours_ago = timezone.now().timestamp() - 7200
    for path in (*kept, orphan, outside):
        os.utime(path, (two_hours_ago, two_hours_ago))

    assert retention.purge_orphan_files() == 1

    assert not orphan.exists()
    assert all_files(private_root) == kept | {fresh, outside}


def test_purgeimages_command_can_sweep_orphans(analysed, private_root, settings):
    settings.SCAN_RETENTION_DAYS = 0
    scan = analysed()
    orphan = private_root / "results" / str(scan.owner_id) / "orphan.png"
    orphan.write_bytes(png_bytes())
    os.utime(orphan, (0, 0))
    out = StringIO()

    call_command("purgeimages", "--orphans", stdout=out)

    assert "Removed 1 orphan file(s)." in out.getvalue()
    assert not orphan.exists()
    assert all(p.is_file() for p in paths(scan, private_root))
