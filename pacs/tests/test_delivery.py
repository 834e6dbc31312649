"""Results back to the PACS, end to end in this process: the listener receives a series, the
(in-process) worker analyses it, and the SR and key images are C-STOREd to a real pynetdicom
Storage SCP on a loopback port; down first, then up: delivered once after it returns."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pydicom.uid import ComprehensiveSRStorage, SecondaryCaptureImageStorage

from audit.models import AuditEvent
from pacs import delivery
from pacs.models import Delivery, ReceivedStudy
from pacs.tasks import deliver_results
from pacs.tests.conftest import complete, send
from predictions.tests.dicom_files import IDENTIFYING
from predictions.tests.fakes import REJECTED
from studies.models import Study
from studies.tests.series_files import series_files

pytestmark = pytest.mark.django_db(transaction=True)
State = Delivery.State


def receive(listener) -> tuple[Study, Delivery]:
    sent = send(listener.port, series_files("axial", slices=8, spacing=6.0))
    assert sent.statuses == [0] * 8
    complete(listener)
    study = Study.objects.get()
    assert study.status == Study.Status.DONE
    return study, Delivery.objects.get()


def page(clinician, study: Study) -> str:
    browser = Client()
    browser.force_login(clinician)
    return browser.get(reverse("studies:detail", args=[study.pk])).content.decode()


def test_results_arrive_in_the_pacs_in_the_original_study(listener, sending_node, pacs, clinician):
    pacs.start()

    study, sent = receive(listener)

    assert sent.state == State.DELIVERED
    assert sent.attempts == 1
    (report,) = pacs.of_class(ComprehensiveSRStorage)
    images = pacs.of_class(SecondaryCaptureImageStorage)
    key = set(study.flagged_slices) or set(study.driving_slices)  # pacs.delivery.key_slices
    assert key
    assert len(images) == len(key) == sent.objects_sent - 1
    for dataset in [report, *images]:
        assert dataset.StudyInstanceUID == IDENTIFYING["StudyInstanceUID"]
        assert dataset.PatientID == IDENTIFYING["PatientID"]
        assert str(dataset.PatientName) == IDENTIFYING["PatientName"]
        assert dataset.AccessionNumber == IDENTIFYING["AccessionNumber"]
        assert dataset.SeriesInstanceUID != IDENTIFYING["SeriesInstanceUID"]
    assert (
        report.CurrentRequestedProcedureEvidenceSequence[0].StudyInstanceUID
        == (IDENTIFYING["StudyInstanceUID"])
    )
    receipt = ReceivedStudy.objects.get()
    assert receipt.sealed_identifiers is None  # erased once delivered
    assert receipt.identifiers_erased_at is not None
    event = AuditEvent.objects.get(action=AuditEvent.Action.DICOM_SENT)
    assert event.object_id == str(study.pk)
    assert event.detail["attempt"] == 1
    assert event.detail["objects"] == sent.objects_sent
    assert "Results sent to PACS at" in page(clinician, study)


def test_a_pacs_down_gets_its_results_once_after_it_returns(
    listener, sending_node, pacs, clinician, settings
):
    study, sent = receive(listener)  # nothing listens on the PACS's port

    assert sent.state == State.RETRYING
    assert sent.attempts == 1
    assert sent.next_attempt_at > timezone.now()
    assert "reach" in sent.error
    assert ReceivedStudy.objects.get().sealed_identifiers is not None  # kept for the retry
    failed = AuditEvent.objects.get(action=AuditEvent.Action.DICOM_SEND_FAILED)
    assert failed.detail["attempt"] == 1
    assert failed.detail["state"] == State.RETRYING
    assert "failed, retrying (attempt 1 of" in page(clinician, study)
    assert delivery.send_due() == 0  # not due yet

    pacs.start()
    later = sent.next_attempt_at + timedelta(minutes=2)
    assert delivery.send_due(now=later) == 1  # the sweep queues it (in-process: sent now)

    sent.refresh_from_db()
    assert sent.state == State.DELIVERED
    assert sent.attempts == 2
    assert len(pacs.of_class(ComprehensiveSRStorage)) == 1
    assert len(pacs.received) == sent.objects_sent
    # A duplicate message, or the sweep again, after success: nothing is sent twice.
    assert deliver_results.delay(sent.pk).get() == State.DELIVERED
    assert delivery.send_due(now=later + timedelta(hours=1)) == 0
    assert len(pacs.received) == sent.objects_sent
    sent.refresh_from_db()
    assert sent.attempts == 2
    actions = list(
        AuditEvent.objects.filter(action__startswith="dicom_se").values_list("action", flat=True)
    )
    assert sorted(actions) == [AuditEvent.Action.DICOM_SEND_FAILED, AuditEvent.Action.DICOM_SENT]
    assert "Results sent to PACS at" in page(clinician, study)


def test_a_delivery_claimed_by_one_task_is_not_sent_by_another(listener, sending_node, pacs):
    _, sent = receive(listener)
    assert sent.state == State.RETRYING
    now = timezone.now()
    assert delivery.claim(sent.pk, now)  # a task has it (SENDING) ...
    pacs.start()
    outcome = delivery.attempt(sent.pk)  # ... so a second one does nothing
    assert outcome.attempted is False
    assert outcome.state == State.SENDING
    assert pacs.received == []
    # Unless the first one died: past the stale limit it may be taken over.
    Delivery.objects.filter(pk=sent.pk).update(claimed_at=now - timedelta(hours=1))
    assert delivery.attempt(sent.pk).state == State.DELIVERED
    assert len(pacs.of_class(ComprehensiveSRStorage)) == 1


def test_after_the_last_attempt_the_delivery_fails_and_stops(
    listener, sending_node, pacs, settings, clinician
):
    settings.PACS_SEND_MAX_ATTEMPTS = 2
    study, sent = receive(listener)
    assert sent.state == State.RETRYING
    assert delivery.retry_delay(1) == settings.PACS_SEND_RETRY_SECONDS
    assert delivery.retry_delay(3) == 4 * settings.PACS_SEND_RETRY_SECONDS

    assert delivery.attempt(sent.pk).state == State.FAILED
    assert delivery.attempt(sent.pk).attempted is False
    sent.refresh_from_db()
    assert sent.attempts == 2
    assert sent.next_attempt_at is None
    assert ReceivedStudy.objects.get().sealed_identifiers is None  # given up: erased
    assert "failed after 2 attempts" in page(clinician, study)


def test_a_pacs_that_does_not_know_us_is_a_failed_attempt_with_the_reason(
    listener, sending_node, pacs
):
    sending_node.return_ae_title = "OTHERPACS"  # the SCP requires its own called AE title
    sending_node.save()
    pacs.start()
    _, sent = receive(listener)
    assert sent.state == State.RETRYING
    assert "rejected the association" in sent.error
    assert pacs.received == []


def test_a_node_without_a_destination_keeps_no_identifier_and_sends_nothing(
    listener, node, clinician
):
    study, sent = receive(listener)
    assert sent.state == State.NOT_SENT
    assert "no destination" in sent.error
    receipt = ReceivedStudy.objects.get()
    assert receipt.sealed_identifiers is None
    assert "Results not sent to PACS" in page(clinician, study)


def test_identifiers_are_deleted_after_the_retention_time_delivered_or_not(
    listener, sending_node, pacs, settings
):
    _, sent = receive(listener)
    assert sent.state == State.RETRYING
    assert delivery.purge_identifiers(hours=72) == 0  # too young

    later = timezone.now() + timedelta(hours=73)
    assert delivery.purge_identifiers(hours=72, now=later) == 1

    receipt = ReceivedStudy.objects.get()
    assert receipt.sealed_identifiers is None
    sent.refresh_from_db()
    assert sent.state == State.FAILED
    assert "deleted after 72 hours" in sent.error
    pacs.start()
    assert delivery.attempt(sent.pk).attempted is False  # nothing left to send with
    assert pacs.received == []


def test_a_deleted_study_takes_its_identifiers_with_it_at_once(listener, sending_node, pacs):
    study, sent = receive(listener)  # the PACS is down: the delivery waits to retry
    assert sent.state == State.RETRYING
    assert ReceivedStudy.objects.get().sealed_identifiers is not None
    study.delete()
    receipt = ReceivedStudy.objects.get()
    assert receipt.sealed_identifiers is None
    assert receipt.identifiers_erased_at is not None
    sent.refresh_from_db()
    assert sent.state == State.NOT_SENT
    assert "deleted" in sent.error
    pacs.start()
    assert delivery.attempt(sent.pk).attempted is False
    assert pacs.received == []


def test_a_study_without_a_result_sends_nothing_and_erases_its_identifiers(
    listener, sending_node, pacs, study_engine
):
    pacs.start()
    study_engine._one = lambda image: REJECTED  # no slice passes the input check
    send(listener.port, series_files("axial", slices=3, spacing=6.0))
    complete(listener)
    study = Study.objects.get()
    assert study.status == Study.Status.REJECTED
    sent = Delivery.objects.get()
    assert sent.state == State.NOT_SENT
    assert ReceivedStudy.objects.get().sealed_identifiers is None
    assert pacs.received == []


def test_with_a_broker_the_task_asks_celery_to_retry_after_the_backoff(
    listener, sending_node, pacs, settings, monkeypatch
):
    from celery.exceptions import Retry

    _, sent = receive(listener)  # attempt 1 failed: RETRYING
    asked: list[float] = []

    def retry(*, countdown: float) -> Retry:
        asked.append(countdown)
        return Retry()

    monkeypatch.setattr(deliver_results, "retry", retry)
    deliver_results.push_request(is_eager=False)  # as a worker runs it
    try:
        with pytest.raises(Retry):
            deliver_results.run(sent.pk)  # attempt 2 fails too
    finally:
        deliver_results.pop_request()
    assert asked == [2 * settings.PACS_SEND_RETRY_SECONDS]
    sent.refresh_from_db()
    assert (sent.state, sent.attempts) == (State.RETRYING, 2)

    pacs.start()
    deliver_results.push_request(is_eager=False)
    try:
        assert deliver_results.run(sent.pk) == State.DELIVERED  # no retry asked
    finally:
        deliver_results.pop_request()
    assert asked == [2 * settings.PACS_SEND_RETRY_SECONDS]
