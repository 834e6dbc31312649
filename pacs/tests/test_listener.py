"""The DICOM listener against pynetdicom as the sender, on a loopback port: who may connect,
what is negotiated, and how instances become one analysed study exactly once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from pydicom.uid import (
    JPEG2000MC,
    MPEG2MPML,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGLSLossless,
    RLELossless,
)

from audit.models import AuditEvent
from pacs.listener import (
    OUT_OF_RESOURCES,
    VERIFICATION,
    Listener,
    Receiver,
    decodable_transfer_syntaxes,
)
from pacs.models import DicomNode, ReceivedStudy
from pacs.signals import study_received
from pacs.tests.conftest import AE_TITLE, QUIET, associate, complete, send
from predictions.tests.dicom_files import IDENTIFYING, MARKER_UID_ROOT
from studies.models import Study
from studies.tests.series_files import series_files

pytestmark = pytest.mark.django_db(transaction=True)


def axial(slices: int = 8, study: str | None = None) -> list[bytes]:
    """A thick axial MR series (used as acquired: one analysed slice per instance)."""
    identifying = dict(IDENTIFYING, StudyInstanceUID=study) if study else None
    return series_files("axial", slices=slices, spacing=6.0, identifying=identifying)


def spooled(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_an_allow_listed_node_is_accepted_and_its_study_analysed_for_its_owner(
    listener, node, clinician, spool_root
):
    mr = axial()
    ct = series_files("axial", slices=3, spacing=5.0, modality="CT")

    sent = send(listener.port, [*mr, *ct])

    assert sent.established
    assert sent.statuses == [0] * 11
    assert spooled(spool_root)  # waiting, with its identifiers, in the private spool
    assert complete(listener, after=QUIET - 5) == []  # not yet quiet long enough
    assert Study.objects.count() == 0

    (received_id,) = complete(listener)

    receipt = ReceivedStudy.objects.get(pk=received_id)
    assert receipt.status == ReceivedStudy.Status.SUBMITTED
    assert (receipt.instances, receipt.duplicates, receipt.associations) == (11, 0, 1)
    study = Study.objects.get()
    assert receipt.study == study
    assert study.owner == clinician
    assert study.case_reference == "DICOM from MR scanner 2"
    assert study.status == Study.Status.DONE  # the worker ran (in-process, fake engine)
    assert study.slices_total == study.slices_analysed == 8
    mr_series, ct_series = study.series.order_by("number")
    assert (mr_series.modality, mr_series.skipped_reason, mr_series.source_slices) == ("MR", "", 8)
    assert ct_series.modality == "CT"
    assert "CT" in ct_series.skipped_reason
    assert spooled(spool_root) == []  # deleted once submitted
    assert list(Study.objects.filter(owner=clinician)) == [study]  # in the owner's history
    event = AuditEvent.objects.get(action=AuditEvent.Action.DICOM_RECEIVED)
    assert (event.actor, event.object_id) == (clinician, str(study.pk))
    assert event.detail["instances"] == 11
    assert complete(listener) == []  # exactly once


def test_an_unknown_ae_title_is_refused_at_association_time_and_audited(listener, node):
    sent = send(listener.port, axial(2), ae_title="INTRUDER")

    assert not sent.established
    assert sent.rejected
    assert ReceivedStudy.objects.count() == 0
    event = AuditEvent.objects.get(action=AuditEvent.Action.DICOM_REFUSED)
    assert event.ip == "127.0.0.1"
    assert event.detail["calling_ae"] == "INTRUDER"
    assert event.detail["called_ae"] == AE_TITLE
    assert "allow-listed" in event.detail["reason"]


def test_the_right_title_from_another_address_is_refused_and_audited(listener, node):
    sent = send(listener.port, axial(2), bind="127.0.0.2")  # loopback, but not 127.0.0.1

    assert not sent.established
    assert sent.rejected
    event = AuditEvent.objects.get(action=AuditEvent.Action.DICOM_REFUSED)
    assert (event.ip, event.detail["calling_ae"]) == ("127.0.0.2", "SCANNER")
    assert ReceivedStudy.objects.count() == 0


def test_an_inactive_node_another_called_title_and_an_unapproved_owner_are_refused(
    listener, node, clinician
):
    DicomNode.objects.filter(pk=node.pk).update(active=False)
    assert send(listener.port, []).rejected
    DicomNode.objects.filter(pk=node.pk).update(active=True)
    assert send(listener.port, [], called="OTHER").rejected
    clinician.is_active = False
    clinician.save()
    assert send(listener.port, []).rejected
    reasons = list(
        AuditEvent.objects.filter(action=AuditEvent.Action.DICOM_REFUSED)
        .order_by("id")
        .values_list("detail__reason", flat=True)
    )
    assert len(reasons) == 3
    assert "another AE title" in reasons[1]
    assert "owner" in reasons[2]
    clinician.is_active = True
    clinician.save()
    assert send(listener.port, []).established  # the same node, allowed again


@pytest.mark.parametrize("syntax", [JPEG2000MC, MPEG2MPML, ExplicitVRBigEndian])
def test_a_transfer_syntax_we_cannot_decode_is_refused_in_the_negotiation(listener, node, syntax):
    assoc = associate(listener.port, syntaxes=(syntax,))
    try:
        assert assoc.is_established  # the association itself is fine (C-ECHO) ...
        assert [cx.abstract_syntax for cx in assoc.accepted_contexts] == [VERIFICATION]
        # ... but MR, CT and Enhanced MR in that syntax are refused: transfer syntaxes not supported
        assert [cx.result for cx in assoc.rejected_contexts] == [0x04, 0x04, 0x04]
        assert assoc.send_c_echo().Status == 0x0000
    finally:
        assoc.release()


def test_the_syntaxes_we_decode_are_accepted():
    offered = decodable_transfer_syntaxes()
    for syntax in (
        ImplicitVRLittleEndian,
        ExplicitVRLittleEndian,
        DeflatedExplicitVRLittleEndian,
        RLELossless,
        JPEGLSLossless,
    ):
        assert syntax in offered
    assert JPEG2000MC not in offered
    assert MPEG2MPML not in offered


def test_a_compressed_and_a_deflated_series_are_received_and_read(listener, node):
    import io

    from pydicom import dcmread

    files = []
    for data in axial(4):
        ds = dcmread(io.BytesIO(data))
        ds.compress(RLELossless)
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        files.append(buffer.getvalue())
    sent = send(listener.port, files, syntaxes=(RLELossless,))
    assert sent.accepted_syntaxes == [RLELossless] * 3  # MR, CT, Enhanced MR
    assert sent.statuses == [0] * 4
    sent = send(listener.port, axial(4, study=f"{MARKER_UID_ROOT}.77"),
                syntaxes=(DeflatedExplicitVRLittleEndian,))  # fmt: skip
    assert sent.statuses == [0] * 4

    assert len(complete(listener)) == 2
    assert sorted(Study.objects.values_list("slices_total", "status")) == [
        (4, "done"),
        (4, "done"),
    ]


def test_retransmitted_instances_are_kept_once(listener, node):
    files = axial()
    assert send(listener.port, [*files, files[2], files[3]]).statuses == [0] * 10
    assert send(listener.port, files[:1]).statuses == [0]  # again, in a new association

    complete(listener)

    receipt = ReceivedStudy.objects.get()
    assert (receipt.instances, receipt.duplicates, receipt.associations) == (8, 3, 2)
    study = Study.objects.get()
    assert study.slices_total == 8
    assert study.series.get().source_slices == 8


def test_several_associations_for_one_study_make_one_study(listener, node):
    files = axial()
    for part in (files[:3], files[3:6], files[6:]):
        assert send(listener.port, part).statuses == [0] * len(part)

    assert len(complete(listener)) == 1

    assert ReceivedStudy.objects.get().associations == 3
    assert Study.objects.get().series.get().source_slices == 8


def test_two_studies_in_one_association_stay_apart(listener, node):
    first, second = axial(4), axial(4, study=f"{MARKER_UID_ROOT}.88")
    send(listener.port, [*first, *second])

    assert len(complete(listener)) == 2
    assert list(Study.objects.values_list("slices_total", flat=True)) == [4, 4]


def test_an_aborted_association_keeps_what_arrived_and_the_study_completes_once(
    listener, node, spool_root
):
    files = axial()
    sent = send(listener.port, files, abort_after=5)
    assert sent.statuses == [0] * 5

    assert len(complete(listener)) == 1
    assert complete(listener) == []

    study = Study.objects.get()
    assert study.series.get().source_slices == 5
    assert study.status == Study.Status.DONE
    assert spooled(spool_root) == []


def test_a_sender_that_resumes_after_an_abort_completes_one_whole_study(listener, node):
    files = axial()
    send(listener.port, files, abort_after=5)
    send(listener.port, files)  # the sender starts the series again

    complete(listener)

    assert Study.objects.get().series.get().source_slices == 8
    assert ReceivedStudy.objects.get().duplicates == 5


def test_the_sweeper_completes_a_study_after_the_quiet_period(transactional_db, study_engine, node):
    server = Listener(
        ae_title=AE_TITLE, bind="127.0.0.1", port=0, receiver=Receiver(quiet_seconds=0.5)
    )
    done = threading.Event()
    study_received.connect(lambda **_: done.set(), weak=False, dispatch_uid="test.sweeper")
    server.start()  # with its sweeper thread
    try:
        send(server.port, axial(4))
        assert done.wait(timeout=30)  # no database reads here while the sweeper writes
    finally:
        server.stop()
        study_received.disconnect(dispatch_uid="test.sweeper")
    receipt = ReceivedStudy.objects.get()
    assert receipt.status == ReceivedStudy.Status.SUBMITTED
    assert (receipt.submitted_at - receipt.last_received_at).total_seconds() >= 0.5
    assert Study.objects.get().status == Study.Status.DONE


def test_a_restarted_listener_goes_on_receiving_the_same_study(
    transactional_db, study_engine, node, spool_root
):
    files = axial()
    first = Listener(
        ae_title=AE_TITLE, bind="127.0.0.1", port=0, receiver=Receiver(quiet_seconds=QUIET)
    )
    first.start(sweeper=False)
    send(first.port, files[:4])
    first.stop()
    (spool_root / "0123456789abcdef0123456789abcdef").mkdir()  # a leftover nobody owns

    second = Listener(
        ae_title=AE_TITLE, bind="127.0.0.1", port=0, receiver=Receiver(quiet_seconds=QUIET)
    )
    second.start(sweeper=False)
    try:
        send(second.port, files[3:])
        assert len(complete(second)) == 1
    finally:
        second.stop()

    receipt = ReceivedStudy.objects.get()
    assert (receipt.instances, receipt.duplicates) == (8, 1)
    assert Study.objects.get().series.get().source_slices == 8
    assert list(spool_root.iterdir()) == []


def test_a_study_with_nothing_to_analyse_is_refused_with_the_reason(listener, node, spool_root):
    send(listener.port, series_files("axial", slices=3, spacing=5.0, modality="CT"))

    complete(listener)

    receipt = ReceivedStudy.objects.get()
    assert receipt.status == ReceivedStudy.Status.REFUSED
    assert receipt.error
    assert Study.objects.count() == 0
    assert spooled(spool_root) == []


def test_instances_beyond_the_study_limit_are_refused_out_of_resources(listener, node, settings):
    settings.STUDY_MAX_FILES = 5
    sent = send(listener.port, axial())

    assert sent.statuses == [0] * 5 + [OUT_OF_RESOURCES] * 3
    complete(listener)
    assert ReceivedStudy.objects.get().instances_refused == 3
    assert Study.objects.get().series.get().source_slices == 5
