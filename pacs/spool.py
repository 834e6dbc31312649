"""The private spool: received instances, with every identifier they carry, until their study
is read. Folders are 0700 and files 0600 under settings.DICOM_SPOOL_ROOT (outside MEDIA_ROOT
and the private media, no URL). A study's folder has a random name (its `ReceivedStudy`'s
spool key); inside it, `STUDY` holds the StudyInstanceUID (so a restarted listener can go on
receiving the same study), `ORDER` the order of arrival, and each instance is `<sha256 of its SOPInstanceUID>.dcm`, so a
retransmitted instance lands on the same name and is never kept twice.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from pathlib import Path

from django.conf import settings

STUDY_FILE = "STUDY"
ORDER_FILE = "ORDER"  # instance file names, one a line, in the order they arrived
SUFFIX = ".dcm"


def root() -> Path:
    path = Path(settings.DICOM_SPOOL_ROOT)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def folder(key: str) -> Path:
    return root() / key


def create(study_uid: str) -> str:
    """A new folder for one study; returns its random key."""
    key = secrets.token_hex(16)
    path = folder(key)
    path.mkdir(mode=0o700)
    _write(path / STUDY_FILE, study_uid.encode("ascii", "replace"))
    return key


def study_uid(key: str) -> str | None:
    try:
        return (folder(key) / STUDY_FILE).read_text("ascii").strip() or None
    except OSError:
        return None


def instance_path(key: str, sop_instance_uid: str) -> Path:
    digest = hashlib.sha256(sop_instance_uid.encode("ascii", "replace")).hexdigest()
    return folder(key) / f"{digest}{SUFFIX}"


def store(path: Path, data: bytes) -> None:
    """Write atomically (a temporary name, then a rename), so a half-written file never
    counts as received; then note it in the arrival order. One writer per study at a time
    (the listener's lock)."""
    _write(path, data)
    descriptor = os.open(path.parent / ORDER_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(descriptor, "a", encoding="ascii") as order:
        order.write(path.name + "\n")


def instances(key: str) -> list[Path]:
    """In the order they arrived (`ORDER`), as an upload's files are read in the order they
    were chosen: series are numbered in that order."""
    base = folder(key)
    try:
        listed = (base / ORDER_FILE).read_text("ascii").split()
    except OSError:
        listed = []
    present = {p.name for p in base.glob(f"*{SUFFIX}")}
    ordered = [name for name in dict.fromkeys(listed) if name in present]
    ordered += sorted(present.difference(ordered))
    return [base / name for name in ordered]


def study_keys() -> list[str]:
    return sorted(p.name for p in root().iterdir() if p.is_dir())


def delete(key: str) -> None:
    shutil.rmtree(folder(key), ignore_errors=True)


def _write(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


class SpooledFile:
    """A spooled instance as studies.reading reads an upload (size, seek, read), opened only
    while it is read, so a study of 2,000 instances holds no 2,000 open files."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        self._position = 0

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position

    def read(self, size: int = -1) -> bytes:
        with self.path.open("rb") as handle:
            handle.seek(self._position)
            data = handle.read(size if size is not None and size >= 0 else -1)
        self._position += len(data)
        return data
