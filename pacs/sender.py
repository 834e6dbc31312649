"""C-STORE of our result objects to a PACS (pynetdicom as the SCU), in one association.

`store` succeeds only if every object was stored (status success or warning); anything else
raises `SendFailed` with a reason in our own words, for the delivery row and the audit log:
never a UID, a name or any other value of the objects sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE
from pynetdicom.association import Association

# C-STORE statuses that mean "stored" (PS3.4 B.2.3): success and the three warnings
# (coercion of data elements, elements discarded, data set does not match SOP class).
STORED = {0x0000, 0xB000, 0xB006, 0xB007}


class SendFailed(Exception):
    """The objects were not all stored; the message says why, without any value."""


@dataclass(frozen=True)
class Destination:
    ae_title: str  # the PACS's (called) AE title
    host: str
    port: int


def store(
    datasets: Sequence[Dataset],
    destination: Destination,
    *,
    calling_ae_title: str,
    timeout: float,
) -> int:
    """Send every dataset in one association; returns how many were stored."""
    ae = AE(ae_title=calling_ae_title)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    ae.connection_timeout = timeout
    for sop_class in dict.fromkeys(str(ds.SOPClassUID) for ds in datasets):
        ae.add_requested_context(sop_class, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    try:
        assoc = ae.associate(destination.host, destination.port, ae_title=destination.ae_title)
    except (OSError, ValueError) as exc:
        raise SendFailed(f"Could not reach the PACS ({type(exc).__name__}).") from None
    if assoc.is_rejected:
        raise SendFailed(
            "The PACS rejected the association (is brainscan's AE title known to it?)."
        )
    if not assoc.is_established:
        raise SendFailed("The PACS could not be reached, or it aborted the association.")
    try:
        return _send_all(assoc, datasets)
    finally:
        if assoc.is_established:
            assoc.release()


def _send_all(assoc: Association, datasets: Sequence[Dataset]) -> int:
    accepted = {str(cx.abstract_syntax) for cx in assoc.accepted_contexts}
    stored = 0
    for number, dataset in enumerate(datasets, start=1):
        if str(dataset.SOPClassUID) not in accepted:
            raise SendFailed(f"The PACS does not accept object {number}'s SOP class.")
        try:
            status = assoc.send_c_store(dataset)
        except (OSError, RuntimeError, ValueError) as exc:
            raise SendFailed(f"Sending object {number} failed ({type(exc).__name__}).") from None
        code = int(status.Status) if "Status" in status else None
        if code is None:
            raise SendFailed(f"No answer from the PACS for object {number} (connection lost?).")
        if code not in STORED:
            raise SendFailed(f"The PACS refused object {number} (status 0x{code:04X}).")
        stored += 1
    return stored
