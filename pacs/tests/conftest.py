"""The listener on a free loopback port in this process, and a pynetdicom SCU to push to it."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import (
    ComprehensiveSRStorage,
    CTImageStorage,
    EnhancedMRImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    MRImageStorage,
    SecondaryCaptureImageStorage,
)
from pynetdicom import AE, evt
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


class Pacs:
    """A Storage SCP standing in for the PACS (pynetdicom, in this process) on a fixed
    loopback port, started and stopped by the test: down first, then up."""

    AE_TITLE = "TESTPACS"

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Dataset] = []
        self._server: Any = None

    def start(self) -> None:
        ae = AE(ae_title=self.AE_TITLE)
        ae.require_called_aet = True
        for sop_class in (ComprehensiveSRStorage, SecondaryCaptureImageStorage):
            ae.add_supported_context(sop_class, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
        self._server = ae.start_server(
            ("127.0.0.1", self.port), block=False, evt_handlers=[(evt.EVT_C_STORE, self._store)]
        )

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def _store(self, event: evt.Event) -> int:
        dataset = event.dataset
        dataset.file_meta = event.file_meta
        self.received.append(dataset)
        return 0x0000

    def of_class(self, sop_class: str) -> list[Dataset]:
        return [ds for ds in self.received if ds.SOPClassUID == sop_class]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def pacs() -> Iterator[Pacs]:
    """Not started: tests call `pacs.start()` when the PACS should be up."""
    server = Pacs()
    yield server
    server.stop()


@pytest.fixture
def sending_node(node: DicomNode, pacs: Pacs) -> DicomNode:
    """The allow-listed node, with results going back to the test PACS."""
    node.return_ae_title = Pacs.AE_TITLE
    node.return_host = "127.0.0.1"
    node.return_port = pacs.port
    node.save()
    return node
