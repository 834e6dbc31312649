"""The listener on a free loopback port in this process, and a pynetdicom SCU to push to it."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from pydicom import dcmread
from pydicom.uid import (
    CTImageStorage,
    EnhancedMRImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
)
from pynetdicom import AE
from pynetdicom.association import Association

from pacs.listener import VERIFICATION, Listener, Receiver
from pacs.models import DicomNode

AE_TITLE = "BRAINSCAN"
SENDER = "SCANNER"
QUIET = 30.0  # tests move the clock past it instead of waiting


@pytest.fixture(autouse=True)
def spool_root(settings, tmp_path: Path) -> Path:
    settings.DICOM_SPOOL_ROOT = tmp_path / "spool"
    return Path(settings.DICOM_SPOOL_ROOT)


@pytest.fixture
def node(clinician) -> DicomNode:
    return DicomNode.objects.create(
        name="MR scanner 2", ae_title=SENDER, host="127.0.0.1", owner=clinician
    )


@pytest.fixture
def listener(transactional_db, study_engine) -> Iterator[Listener]:
    """Started without its sweeper: tests complete quiet studies by calling `complete()`."""
    server = Listener(
        ae_title=AE_TITLE, bind="127.0.0.1", port=0, receiver=Receiver(quiet_seconds=QUIET)
    )
    server.start(sweeper=False)
    yield server
    server.stop()


def complete(listener: Listener, *, after: float = QUIET + 1) -> list[int]:
    """Complete what has been quiet `after` seconds from now (no sleeping)."""
    later = timezone.now() + timedelta(seconds=after)
    return listener.receiver.complete_quiet_studies(now=later)


@dataclass
class Sent:
    established: bool
    rejected: bool = False
    statuses: list[int] = field(default_factory=list)
    accepted_syntaxes: list[str] = field(default_factory=list)
    rejected_contexts: int = 0


def associate(
    port: int,
    *,
    ae_title: str = SENDER,
    called: str = AE_TITLE,
    bind: str = "127.0.0.1",
    syntaxes: tuple[str, ...] = (ExplicitVRLittleEndian,),
) -> Association:
    ae = AE(ae_title=ae_title)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    for sop_class in (MRImageStorage, CTImageStorage, EnhancedMRImageStorage):
        for syntax in syntaxes:
            ae.add_requested_context(sop_class, syntax)
    ae.add_requested_context(VERIFICATION)  # so refused image contexts leave one to accept
    return ae.associate("127.0.0.1", port, ae_title=called, bind_address=(bind, 0))


def send(
    port: int, files: list[bytes], *, abort_after: int | None = None, **options: object
) -> Sent:
    """Push `files` in one association (CT files under CT Image Storage, as a scanner would);
    `abort_after` sends an A-ABORT after that many instances."""
    assoc = associate(port, **options)  # type: ignore[arg-type]
    sent = Sent(assoc.is_established, assoc.is_rejected)
    if not assoc.is_established:
        return sent
    sent.accepted_syntaxes = [
        str(cx.transfer_syntax[0])
        for cx in assoc.accepted_contexts
        if cx.abstract_syntax != VERIFICATION
    ]
    sent.rejected_contexts = len(assoc.rejected_contexts)
    for number, data in enumerate(files, start=1):
        dataset = dcmread(io.BytesIO(data))
        if dataset.Modality == "CT":
            dataset.SOPClassUID = CTImageStorage
        status = assoc.send_c_store(dataset)
        sent.statuses.append(int(status.Status) if "Status" in status else -1)
        if number == abort_after:
            assoc.abort()
            return sent
    assoc.release()
    return sent
