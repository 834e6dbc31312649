"""The Storage SCP: allow-listed nodes push studies; a study is read once it has been quiet.

`Receiver` holds what is being received: one entry per (node, StudyInstanceUID), in memory,
with its spool folder (pacs.spool) and its `ReceivedStudy` row (counts and times, no
identifier). `Listener` runs pynetdicom's AE on it:

- A-ASSOCIATE: accepted only from an active `DicomNode` whose calling AE title and address
  both match and whose owner may analyse scans; anything else gets an A-ASSOCIATE-RJ
  (permanent, calling AE title not recognised) and `association_refused` (the audit log).
- Presentation contexts: MR and Enhanced MR images, and the image types a mixed study holds
  (CT, PET, secondary capture; the study reader skips them with a reason), in the transfer
  syntaxes we can decode (`decodable_transfer_syntaxes`); any other is rejected in the
  negotiation, not after. C-ECHO is answered.
- C-STORE: the instance is written to its study's spool folder under a name derived from its
  SOPInstanceUID; a retransmission overwrites nothing and counts as a duplicate. Several
  associations may add to one study, and an association aborted mid-series keeps what
  arrived.
- Completion: when no instance of a study has arrived for `quiet_seconds`, its files go
  through `studies.services.read_upload` and `submit_study` (which queues the study worker)
  exactly as an upload does, owned by the node's clinician; the spool folder is deleted. An
  instance that arrives later starts a new study.

Nothing here logs or stores a UID or any other header value in the clear: for a node that
takes results back, the few identifiers filing them needs are sealed (pacs.delivery) before
the spool is deleted, and the delivery is scheduled once the study is finished.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import close_old_connections, connections
from django.db.models import F
from django.utils import timezone
from pydicom import uid as uids
from pydicom.pixels import get_decoder
from pydicom.uid import (
    UID,
    CTImageStorage,
    EnhancedCTImageStorage,
    EnhancedMRColorImageStorage,
    EnhancedMRImageStorage,
    LegacyConvertedEnhancedMRImageStorage,
    MRImageStorage,
    MultiFrameGrayscaleByteSecondaryCaptureImageStorage,
    MultiFrameGrayscaleWordSecondaryCaptureImageStorage,
    PositronEmissionTomographyImageStorage,
    SecondaryCaptureImageStorage,
)
from pynetdicom import AE, evt
from pynetdicom.association import Association

from pacs import delivery, spool
from pacs.models import DicomNode, ReceivedStudy, normalise_address
from pacs.signals import association_refused, study_received
from studies import services
from studies.reading import StudyRefused

logger = logging.getLogger(__name__)

# MR images are what we analyse; the others are what else a brain study holds. They are
# received so a mixed study behaves as an upload does: the reader lists them as skipped.
STORAGE_CLASSES = (
    MRImageStorage,
    EnhancedMRImageStorage,
    LegacyConvertedEnhancedMRImageStorage,
    EnhancedMRColorImageStorage,
    CTImageStorage,
    EnhancedCTImageStorage,
    PositronEmissionTomographyImageStorage,
    SecondaryCaptureImageStorage,
    MultiFrameGrayscaleByteSecondaryCaptureImageStorage,
    MultiFrameGrayscaleWordSecondaryCaptureImageStorage,
)
UNCOMPRESSED = (
    uids.ExplicitVRLittleEndian,
    uids.ImplicitVRLittleEndian,
    uids.DeflatedExplicitVRLittleEndian,
)
VERIFICATION = UID("1.2.840.10008.1.1")  # C-ECHO
# C-STORE statuses (PS3.4 B.2.3).
SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700
CANNOT_UNDERSTAND = 0xC000
NOT_AUTHORISED = 0xC001  # a store on an association we did not accept from a node
# A-ASSOCIATE-RJ: rejected-permanent, by the service user, calling AE title not recognised.
REJECT_UNKNOWN_CALLER = (0x01, 0x01, 0x03)
REJECT_UNKNOWN_CALLED = (0x01, 0x01, 0x07)  # ... called AE title not recognised
MAX_REASON = 200


def decodable_transfer_syntaxes() -> list[str]:
    """Uncompressed little endian (and deflate), plus every compressed syntax an installed
    pydicom decoder plugin can decode; what the study reader reads, nothing else."""
    compressed = []
    for syntax in uids.AllTransferSyntaxes:
        if syntax in UNCOMPRESSED or not syntax.is_compressed:
            continue
        try:
            if get_decoder(syntax).is_available:
                compressed.append(syntax)
        except NotImplementedError:
            continue
    return [*UNCOMPRESSED, *compressed]


def printable(value: object, limit: int = 16) -> str:
    """A peer-supplied title as plain printable ASCII, cut to `limit` (for the audit log)."""
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
    return "".join(c if " " <= c <= "~" else "?" for c in text).strip()[:limit]


@dataclass
class _Receiving:
    row_id: int
    node_id: int
    owner_id: int
    key: str
    last_at: datetime
    instances: int = 0
    bytes: int = 0
    association_ids: set[int] = field(default_factory=set)


class Receiver:
    """What is being received, and the completion of quiet studies. Thread-safe: C-STORE
    handlers (one thread per association) and the sweeper take turns on one lock."""

    def __init__(self, *, quiet_seconds: float) -> None:
        self.quiet = timedelta(seconds=quiet_seconds)
        self._lock = threading.Lock()
        self._receiving: dict[tuple[int, str], _Receiving] = {}
        self._nodes: weakref.WeakKeyDictionary[Association, DicomNode] = weakref.WeakKeyDictionary()
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None

    # --- associations ---------------------------------------------------------------------

    def on_requested(self, event: evt.Event) -> None:
        """Accept the association only from an allow-listed node, else A-ASSOCIATE-RJ."""
        assoc = event.assoc
        request = assoc.requestor.primitive
        calling = printable(getattr(request, "calling_ae_title", ""))
        called = printable(getattr(request, "called_ae_title", ""))
        address = normalise_address(str(assoc.requestor.address))
        close_old_connections()
        node = (
            DicomNode.objects.select_related("owner")
            .filter(active=True, ae_title=calling, host=address)
            .first()
        )
        reason = ""
        diagnostic = REJECT_UNKNOWN_CALLER
        if called != printable(assoc.ae.ae_title):
            reason = "The association called another AE title."
            diagnostic = REJECT_UNKNOWN_CALLED
        elif node is None:
            reason = "The calling AE title and address are not an allow-listed DICOM node."
        elif not node.owner.can_analyze:
            reason = "The node's owner is not an approved clinician."
        if node is not None and not reason:
            self._nodes[assoc] = node
            return
        logger.warning("DICOM association refused from %s (%s): %s", address, calling, reason)
        association_refused.send(
            sender=Receiver, calling_ae=calling, called_ae=called, address=address, reason=reason
        )
        assoc.acse.send_reject(*diagnostic)
        assoc.kill()  # waits until the A-ASSOCIATE-RJ is out, as pynetdicom's own refusals do
        connections.close_all()  # this association's thread ends here

    def on_finished(self, event: evt.Event) -> None:
        """Released or aborted: what arrived stays; the thread's database connection goes."""
        self._nodes.pop(event.assoc, None)
        if threading.current_thread() is event.assoc:
            connections.close_all()

    # --- instances ------------------------------------------------------------------------

    def on_store(self, event: evt.Event) -> int:
        node = self._nodes.get(event.assoc)
        if node is None:
            return NOT_AUTHORISED
        try:
            dataset = event.dataset
            study_uid = str(dataset.StudyInstanceUID).strip()
            sop_uid = str(dataset.SOPInstanceUID).strip()
        except Exception:  # a dataset that does not decode, or lacks its UIDs
            return CANNOT_UNDERSTAND
        if not study_uid or not sop_uid:
            return CANNOT_UNDERSTAND
        data = event.encoded_dataset()
        close_old_connections()
        with self._lock:
            return self._store(node, study_uid, sop_uid, data, id(event.assoc))

    def _store(self, node: DicomNode, study_uid: str, sop_uid: str, data: bytes, assoc: int) -> int:
        now = timezone.now()
        entry = self._receiving.get((node.pk, study_uid))
        if entry is None:
            entry = self._start(node, study_uid, now)
        new_association = assoc not in entry.association_ids
        entry.association_ids.add(assoc)
        path = spool.instance_path(entry.key, sop_uid)
        changes: dict[str, Any] = {"last_received_at": now}
        if new_association:
            changes["associations"] = F("associations") + 1
        status = SUCCESS
        if path.exists():
            changes["duplicates"] = F("duplicates") + 1  # retransmitted: kept once
        elif (
            entry.instances >= settings.STUDY_MAX_FILES
            or entry.bytes + len(data) > settings.STUDY_MAX_BYTES
        ):
            changes["instances_refused"] = F("instances_refused") + 1
            status = OUT_OF_RESOURCES
        else:
            spool.store(path, data)
            entry.instances += 1
            entry.bytes += len(data)
            changes["instances"] = F("instances") + 1
            changes["bytes"] = F("bytes") + len(data)
        entry.last_at = now
        ReceivedStudy.objects.filter(pk=entry.row_id).update(**changes)
        return status

    def _start(self, node: DicomNode, study_uid: str, now: datetime) -> _Receiving:
        key = spool.create(study_uid)
        row = ReceivedStudy.objects.create(
            node=node, spool_key=key, first_received_at=now, last_received_at=now
        )
        entry = _Receiving(row.pk, node.pk, node.owner_id, key, now)
        self._receiving[(node.pk, study_uid)] = entry
        return entry

    # --- a restarted listener -------------------------------------------------------------

    def resume(self) -> None:
        """Take up the studies a previous run was receiving (their quiet period counts from
        their last instance); remove spool folders no receiving row points to."""
        with self._lock:
            rows = ReceivedStudy.objects.filter(status=ReceivedStudy.Status.RECEIVING)
            kept = set()
            for row in rows.select_related("node"):
                study_uid = spool.study_uid(row.spool_key)
                if study_uid is None or row.node is None:
                    spool.delete(row.spool_key)
                    ReceivedStudy.objects.filter(pk=row.pk).update(
                        status=ReceivedStudy.Status.FAILED,
                        error="Its spool folder or its node was gone when the listener started.",
                    )
                    continue
                files = spool.instances(row.spool_key)
                entry = _Receiving(
                    row.pk,
                    row.node.pk,
                    row.node.owner_id,
                    row.spool_key,
                    row.last_received_at,
                    instances=len(files),
                    bytes=sum(p.stat().st_size for p in files),
                )
                self._receiving[(row.node.pk, study_uid)] = entry
                kept.add(row.spool_key)
            for key in spool.study_keys():
                if key not in kept:
                    spool.delete(key)

    # --- completion -----------------------------------------------------------------------

    def complete_quiet_studies(self, now: datetime | None = None) -> list[int]:
        """Read and submit every study quiet for the quiet period; returns their row ids."""
        now = now or timezone.now()
        with self._lock:
            due = [k for k, e in self._receiving.items() if e.last_at <= now - self.quiet]
            entries = [(k, self._receiving.pop(k)) for k in due]
        done = []
        for key, entry in entries:
            if self._complete(key, entry):
                done.append(entry.row_id)
        return done

    def _complete(self, key: tuple[int, str], entry: _Receiving) -> bool:
        close_old_connections()
        claimed = ReceivedStudy.objects.filter(
            pk=entry.row_id, status=ReceivedStudy.Status.RECEIVING
        ).update(status=ReceivedStudy.Status.READING)
        if not claimed:
            spool.delete(entry.key)
            return False
        rows = ReceivedStudy.objects.filter(pk=entry.row_id)
        row = rows.select_related("node__owner").get()
        try:
            owner = row.node.owner if row.node is not None else None
            if owner is None or not owner.can_analyze:
                raise StudyRefused("The node's owner is not an approved clinician.")
            files = [spool.SpooledFile(path) for path in spool.instances(entry.key)]
            if not files:
                raise StudyRefused("No instance of this study was kept.")
            if row.node is not None and row.node.sends_results:
                delivery.seal_identifiers(row.pk, list(files))  # for the results only
            study_read = services.read_upload(files)
            study = services.submit_study(owner, study_read, case_reference=_reference(row))
        except StudyRefused as exc:
            rows.update(status=ReceivedStudy.Status.REFUSED, error=str(exc)[:2000])
            delivery.erase_identifiers(row.pk)
            spool.delete(entry.key)
            logger.info("received study %s refused: %s", entry.row_id, exc)
            return True
        except Exception as exc:
            return self._failed(key, entry, row.attempts + 1, type(exc).__name__)
        rows.update(status=ReceivedStudy.Status.SUBMITTED, study=study, submitted_at=timezone.now())
        spool.delete(entry.key)
        row.refresh_from_db()
        logger.info(
            "received study %s: %d instance(s) submitted as study %s",
            row.pk,
            row.instances,
            study.pk,
        )
        study_received.send(sender=Receiver, receipt=row)
        delivery.schedule(row)  # if the worker finished before the two were linked
        return True

    def _failed(self, key: tuple[int, str], entry: _Receiving, attempts: int, kind: str) -> bool:
        """An unexpected error (the database, the disk): tried again after another quiet
        period, three times; then the study is given up and its spool folder deleted."""
        logger.exception("received study %s could not be read (%s)", entry.row_id, kind)
        rows = ReceivedStudy.objects.filter(pk=entry.row_id)
        if attempts >= 3:
            rows.update(
                status=ReceivedStudy.Status.FAILED,
                attempts=attempts,
                error=f"Reading the study failed {attempts} times ({kind}).",
            )
            delivery.erase_identifiers(entry.row_id)
            spool.delete(entry.key)
            return True
        rows.update(status=ReceivedStudy.Status.RECEIVING, attempts=attempts)
        with self._lock:
            entry.last_at = timezone.now()
            self._receiving.setdefault(key, entry)
        return False

    # --- the sweeper thread ---------------------------------------------------------------

    def start_sweeper(self, interval: float | None = None) -> None:
        seconds = self.quiet.total_seconds()
        interval = interval if interval is not None else min(5.0, max(0.2, seconds / 4))
        self._stop.clear()
        self._sweeper = threading.Thread(
            target=self._sweep, args=(interval,), name="dicom-completion", daemon=True
        )
        self._sweeper.start()

    def stop_sweeper(self) -> None:
        self._stop.set()
        if self._sweeper is not None:
            self._sweeper.join()
            self._sweeper = None

    def _sweep(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.complete_quiet_studies()
                if current_app.conf.task_always_eager:  # no beat in the embedded default
                    delivery.send_due()
            except Exception:
                logger.exception("the completion sweep failed; it runs again")
        connections.close_all()


def _reference(row: ReceivedStudy) -> str:
    """The case reference of a received study: where it came from (our own words and the
    node's name from the admin, never a header value)."""
    return f"DICOM from {row.node.name}" if row.node is not None else "DICOM"


class Listener:
    """pynetdicom's AE serving the Receiver on (bind, port); port 0 picks a free port."""

    def __init__(
        self,
        *,
        ae_title: str,
        bind: str,
        port: int,
        receiver: Receiver,
        transfer_syntaxes: Iterable[str] | None = None,
    ) -> None:
        self.receiver = receiver
        self.ae = AE(ae_title=ae_title)
        syntaxes = list(transfer_syntaxes or decodable_transfer_syntaxes())
        for sop_class in STORAGE_CLASSES:
            self.ae.add_supported_context(sop_class, syntaxes)
        self.ae.add_supported_context(VERIFICATION)
        self.address = (bind, port)
        self.server: Any = None

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self, *, sweeper: bool = True) -> None:
        handlers: list[Any] = [
            (evt.EVT_REQUESTED, self.receiver.on_requested),
            (evt.EVT_C_STORE, self.receiver.on_store),
            (evt.EVT_RELEASED, self.receiver.on_finished),
            (evt.EVT_ABORTED, self.receiver.on_finished),
        ]
        self.receiver.resume()
        self.server = self.ae.start_server(self.address, block=False, evt_handlers=handlers)
        if sweeper:
            self.receiver.start_sweeper()

    def stop(self) -> None:
        self.receiver.stop_sweeper()
        if self.server is not None:
            self.server.shutdown()
            self.server = None
