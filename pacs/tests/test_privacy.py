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
