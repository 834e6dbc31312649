"""The return identifiers: what a PACS needs to file our results in the patient's own study.

They are the only identifying data brainscan keeps (in `ReceivedStudy.sealed_identifiers`),
and only until the results are delivered (or PACS_IDENTIFIERS_RETENTION_HOURS have passed).
They are sealed with Fernet (AES-128-CBC + HMAC-SHA256, `cryptography`) under
settings.PACS_IDENTIFIERS_KEY, so the database, its backups and the admin hold ciphertext.
Only the sending code (pacs.delivery) unseals them; nothing here logs a value, and the
errors raised say what went wrong without quoting any.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

# Longest value kept per attribute (the longest VR among them, PN, is 64 per component group).
MAX_VALUE = 324


class IdentifiersUnavailable(Exception):
    """The sealed identifiers cannot be read (another key, or damaged); no value is quoted."""


@dataclass(frozen=True)
class ReturnIdentifiers:
    """Patient and study attributes copied, as sent, from the received study's first
    instance; empty strings where the sender sent none. Nothing else from the header."""

    StudyInstanceUID: str
    PatientID: str = ""
    PatientName: str = ""
    PatientBirthDate: str = ""
    PatientSex: str = ""
    AccessionNumber: str = ""
    StudyID: str = ""
    StudyDate: str = ""
    StudyTime: str = ""
    ReferringPhysicianName: str = ""
    # The source's character set, so a name in another script is encoded back as it came.
    SpecificCharacterSet: str = ""

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> ReturnIdentifiers:
        values = {f.name: _text(dataset.get(f.name)) for f in fields(cls)}
        if not values["StudyInstanceUID"]:
            raise ValueError("The instance has no StudyInstanceUID.")
        return cls(**values)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, MultiValue | list | tuple):
        return "\\".join(str(v) for v in value)[:MAX_VALUE]
    return str(value).strip()[:MAX_VALUE]


def valid_key(key: str) -> bool:
    """A Fernet key (32 url-safe base64 bytes), or several separated by commas."""
    try:
        _fernet(key)
    except ValueError:
        return False
    return True


def _fernet(keys: str) -> MultiFernet:
    """The first key seals; every key listed unseals (so a key can be rotated: put the new
    one first, keep the old one until the old tokens are gone)."""
    parts = [k.strip() for k in keys.split(",") if k.strip()]
    if not parts:
        raise ValueError("No key.")
    try:
        return MultiFernet([Fernet(k.encode("ascii")) for k in parts])
    except (ValueError, TypeError, UnicodeEncodeError):
        raise ValueError("PACS_IDENTIFIERS_KEY is not a Fernet key.") from None


def seal(identifiers: ReturnIdentifiers) -> bytes:
    """The identifiers as a Fernet token (bytes), under the configured key."""
    plain = json.dumps(asdict(identifiers), separators=(",", ":"), ensure_ascii=False)
    return _fernet(settings.PACS_IDENTIFIERS_KEY).encrypt(plain.encode("utf-8"))


def unseal(token: bytes | memoryview) -> ReturnIdentifiers:
    """Decrypt and check a token from `seal` (raises IdentifiersUnavailable)."""
    try:
        plain = _fernet(settings.PACS_IDENTIFIERS_KEY).decrypt(bytes(token))
        values = json.loads(plain.decode("utf-8"))
        return ReturnIdentifiers(
            **{f.name: str(values.get(f.name, "")) for f in fields(ReturnIdentifiers)}
        )
    except (InvalidToken, ValueError, TypeError):
        raise IdentifiersUnavailable(
            "The return identifiers cannot be decrypted with PACS_IDENTIFIERS_KEY."
        ) from None


def uid_entropy(identifiers: ReturnIdentifiers, *parts: object) -> list[str]:
    """Entropy for deterministic UIDs of our result objects: the same delivery builds the
    same SOP Instance UIDs on every attempt (a resend replaces, never duplicates, in the
    PACS), and nobody without the key can derive them from the study's UID."""
    return [settings.PACS_IDENTIFIERS_KEY, identifiers.StudyInstanceUID, *map(str, parts)]
