"""No identifying value of a study received over DICOM reaches the database, the private
files, the logs, the audit log or the owner's pages; the spool holding them is emptied once
the study is submitted. Every identifying tag of the test series is a marker (UIDs included)."""

from __future__ import annotations

import logging

import pytest
from django.test import Client
from django.urls import reverse

from pacs.tests.conftest import complete, send
from predictions.tests.dicom_files import IDENTIFYING
from predictions.tests.leaks import (
    assert_no_markers,
    database_dump,
    files_under,
    found_markers,
    log_text,
)
from studies.models import Study
from studies.tests.series_files import enhanced_file, series_files

pytestmark = pytest.mark.django_db(transaction=True)


def test_no_identifying_value_of_a_received_study_is_kept_anywhere(
    listener, node, clinician, private_root, spool_root, caplog
):
    caplog.set_level(logging.DEBUG)  # the root; pynetdicom keeps the level settings give it
    for name in ("pacs", "studies", "predictions", "pydicom", "django"):
        caplog.set_level(logging.DEBUG, logger=name)
    series = series_files("sagittal", slices=60, spacing=1.5)
    ct = series_files("axial", slices=3, spacing=5.0, modality="CT")
    assert found_markers(b"".join(series))  # the search below has something to find

    assert send(listener.port, [*series[:30]], abort_after=20).statuses == [0] * 20
    assert send(listener.port, [*series, *ct, series[3]]).statuses == [0] * 64
    assert send(listener.port, [enhanced_file()]).statuses == [0]
    assert found_markers(b"".join(files_under(spool_root).values()))  # held there, only
    complete(listener)

    study = Study.objects.get()
    assert study.status == Study.Status.DONE
    assert study.series.filter(skipped_reason__contains="CT").exists()
    assert_no_markers("the database", database_dump())
    assert files_under(spool_root) == {}
    for name, content in files_under(private_root).items():
        assert_no_markers(name, content)
        assert content[:8] == b"\x89PNG\r\n\x1a\n"
    assert_no_markers("the logs", log_text(caplog.records))
    assert IDENTIFYING["PatientID"] not in log_text(caplog.records)

    browser = Client()
    browser.force_login(clinician)
    pages = [
        browser.get(reverse("studies:list")).content,
        browser.get(reverse("studies:detail", args=[study.pk])).content,
        browser.get(reverse("studies:slices-csv", args=[study.pk])).content,
        b"".join(browser.get(reverse("studies:export")).streaming_content),
    ]
    for page in pages:
        assert_no_markers("a page or an export", page)
    assert b"DICOM from MR scanner 2" in pages[0]


def test_the_return_identifiers_appear_nowhere_but_in_the_objects_sent_back(
    listener, sending_node, pacs, clinician, private_root, spool_root, caplog, admin_client
):
    """Every identifying tag is a marker. While the PACS is down the identifiers wait, sealed,
    in the database; then they must not show in any column (but the sealed blob), page, API
    body, CSV, admin page or log. Once the PACS is back, they are in what it received, and
    erased here."""
    from rest_framework.test import APIClient

    from api.models import ApiToken
    from pacs import delivery
    from pacs.models import Delivery, ReceivedStudy

    caplog.set_level(logging.DEBUG)
    for name in ("pacs", "studies", "predictions", "pydicom", "highdicom", "django", "celery"):
        caplog.set_level(logging.DEBUG, logger=name)
    assert send(listener.port, series_files("axial", slices=8, spacing=6.0)).statuses == [0] * 8
    complete(listener)  # analysed; the PACS is down: the first attempt fails

    study = Study.objects.get()
    receipt = ReceivedStudy.objects.get()
    sent = Delivery.objects.get()
    assert sent.state == Delivery.State.RETRYING
    sealed = bytes(receipt.sealed_identifiers)
    assert sealed  # waiting, encrypted
    assert_no_markers("the sealed blob", sealed)
    assert_no_markers("the database", database_dump())  # the blob is ciphertext too
    assert files_under(spool_root) == {}
    for name, content in files_under(private_root).items():
        assert_no_markers(name, content)

    browser = Client()
    browser.force_login(clinician)
    _token, key = ApiToken.issue(clinician, "privacy")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    shown = {
        "study page": browser.get(reverse("studies:detail", args=[study.pk])),
        "study status": browser.get(reverse("studies:status", args=[study.pk])),
        "study list": browser.get(reverse("studies:list")),
        "slices CSV": browser.get(reverse("studies:slices-csv", args=[study.pk])),
        "API study": api.get(reverse("api:study-detail", args=[study.pk])),
        "API studies": api.get(reverse("api:studies")),
        "API slices": api.get(reverse("api:study-slices", args=[study.pk])),
        "admin receipt": admin_client.get(
            reverse("admin:pacs_receivedstudy_change", args=[receipt.pk])
        ),
        "admin receipts": admin_client.get(reverse("admin:pacs_receivedstudy_changelist")),
        "admin delivery": admin_client.get(reverse("admin:pacs_delivery_change", args=[sent.pk])),
        "admin deliveries": admin_client.get(reverse("admin:pacs_delivery_changelist")),
        "admin node": admin_client.get(
            reverse("admin:pacs_dicomnode_change", args=[sending_node.pk])
        ),
        "admin audit": admin_client.get(reverse("admin:audit_auditevent_changelist")),
    }
    for where, response in shown.items():
        assert response.status_code == 200, where
        assert_no_markers(where, response.content)
        assert sealed[:24] not in response.content, where  # not even the ciphertext
    export = browser.get(reverse("studies:export"))
    assert_no_markers("the CSV export", b"".join(export.streaming_content))
    assert b"failed, retrying (attempt 1 of" in shown["study page"].content

    pacs.start()
    assert delivery.attempt(sent.pk).state == Delivery.State.DELIVERED

    received = pacs.received
    assert len(received) >= 2
    for dataset in received:  # the markers are where they belong: in the objects sent back
        assert dataset.PatientID == IDENTIFYING["PatientID"]
        assert str(dataset.PatientName) == IDENTIFYING["PatientName"]
        assert dataset.PatientBirthDate == IDENTIFYING["PatientBirthDate"]
        assert dataset.AccessionNumber == IDENTIFYING["AccessionNumber"]
        assert dataset.StudyID == IDENTIFYING["StudyID"]
        assert dataset.StudyDate == IDENTIFYING["StudyDate"]
        assert dataset.StudyTime == IDENTIFYING["StudyTime"]
        assert str(dataset.ReferringPhysicianName) == IDENTIFYING["ReferringPhysicianName"]
        assert dataset.StudyInstanceUID == IDENTIFYING["StudyInstanceUID"]
        for other in ("PatientAddress", "OtherPatientIDs", "InstitutionName", "OperatorsName"):
            assert other not in dataset  # only what filing the results needs
    ReceivedStudy.objects.get(pk=receipt.pk, sealed_identifiers=None)  # erased once delivered
    assert_no_markers("the database", database_dump())
    assert_no_markers("the logs", log_text(caplog.records))
    page = browser.get(reverse("studies:detail", args=[study.pk])).content
    assert_no_markers("the study page", page)
    assert b"Results sent to PACS at" in page
