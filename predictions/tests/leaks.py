"""Search everything brainscan keeps for strings that must not be there.

Used by the DICOM privacy tests (and any test that wants to prove a value leaked nowhere):
a full dump of every table, every file under private storage, captured log records.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import pytest
from django.db import connection

from predictions.tests.dicom_files import MARKERS


def database_dump() -> str:
    """Every row of every table as text; plain SQL, so it reads SQLite and MySQL alike."""
    chunks: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            chunks.extend(f"{table}: {_text(row)}" for row in cursor.fetchall())
    return "\n".join(chunks)


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()} if root.exists() else {}


def log_text(records: Iterable[logging.LogRecord]) -> str:
    """Records as a handler would write them, tracebacks included."""
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    return "\n".join(formatter.format(record) for record in records)


def found_markers(text: str | bytes, markers: Iterable[str] = MARKERS) -> list[str]:
    if isinstance(text, bytes):
        return [m for m in markers if m.encode() in text]
    return [m for m in markers if m in text]


def assert_no_markers(where: str, text: str | bytes) -> None:
    found = found_markers(text)
    if found:
        pytest.fail(f"identifying DICOM values {found} found in {where}")


def _text(row: tuple[object, ...]) -> str:
    return " | ".join(_value_text(value) for value in row)


def _value_text(value: object) -> str:
    if isinstance(value, memoryview):
        value = bytes(value)
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)
