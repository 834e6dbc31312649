"""CSV export of a clinician's (filtered) history, streamed row chunk by row chunk.

Rows are read in keyset pages of CHUNK_SIZE along the history's own order (newest first,
ties by id), not with one big query: MySQL's client library buffers a whole result set
even behind QuerySet.iterator(), so 100 000 rows would sit in memory at once. Each page is
one indexed query; memory stays at one page whatever the history's size.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterator
from datetime import tzinfo
from typing import Any

from django.db.models import Q, QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from predictions.models import Label, Prediction, Scan

CHUNK_SIZE = 2000
CLASSES = [value for value, _ in Label.choices]
HEADER = [
    "id",
    "case_reference",
    "uploaded_at",
    "batch",
    "upload_order",
    "sha256",
    "status",
    "label",
    *[f"p_{name}" for name in CLASSES],
    "tumour_probability",
    "risk",
    "model_version",
    "review_verdict",
    "reviewed_label",
    "review_note",
    "reviewer",
    "reviewed_at",
    "rejection_reason",
]
FIELDS = (
    "pk",
    "uploaded_at",
    "case_reference",
    "batch",
    "upload_position",
    "frame_index",
    "sha256",
    "prediction__status",
    "prediction__label",
    "prediction__probabilities",
    "prediction__tumour_probability",
    "prediction__risk",
    "prediction__model_version",
    "prediction__review_verdict",
    "prediction__review_label",
    "prediction__review_note",
    "prediction__reviewed_by__full_name",
    "prediction__reviewed_by__email",
    "prediction__reviewed_at",
    "prediction__error",
)
# A spreadsheet runs a cell that starts with one of these as a formula (CWE-1236).
FORMULA_START = "=+-@\t\r"


class _Echo:
    """csv.writer writes into this and gets the line back, so nothing accumulates."""

    def write(self, value: str) -> str:
        return value


def csv_response(scans: QuerySet[Scan], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_lines(scans), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


def csv_lines(scans: QuerySet[Scan], chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """The header, then one UTF-8 block of lines per page of rows."""
    writer = csv.writer(_Echo())
    zone = timezone.get_current_timezone()  # once: per-row lookups cost a third of the time
    yield writer.writerow(HEADER).encode("utf-8")
    for page in _pages(scans, chunk_size):
        yield "".join(writer.writerow(_csv_row(row, zone)) for row in page).encode("utf-8")


def _pages(scans: QuerySet[Scan], chunk_size: int) -> Iterator[list[tuple[Any, ...]]]:
    ordered = scans.order_by("-uploaded_at", "-pk").values_list(*FIELDS)
    page = list(ordered[:chunk_size])
    while page:
        yield page
        if len(page) < chunk_size:
            return
        last_pk, last_time = page[-1][0], page[-1][1]
        older = Q(uploaded_at__lt=last_time) | Q(uploaded_at=last_time, pk__lt=last_pk)
        page = list(ordered.filter(older)[:chunk_size])


def _csv_row(row: tuple[Any, ...], zone: tzinfo) -> list[str]:
    (pk, uploaded_at, case, batch, position, frame, sha256, status, label, probabilities) = row[:10]
    tumour, risk, version, verdict, fix, note, reviewer_name, reviewer_email = row[10:18]
    reviewed_at, error = row[18:]
    probabilities = probabilities or {}
    reviewed_label = label if verdict == Prediction.Verdict.AGREE else fix
    cells = [
        str(pk),
        case,
        uploaded_at.astimezone(zone).isoformat(timespec="seconds"),
        str(batch),
        _upload_order(position, frame),
        sha256,
        status or "",
        label or "",
        *[_number(probabilities.get(name)) for name in CLASSES],
        _number(tumour),
        risk or "",
        version or "",
        verdict or "",
        reviewed_label or "",
        note or "",
        reviewer_name or reviewer_email or "",
        reviewed_at.astimezone(zone).isoformat(timespec="seconds") if reviewed_at else "",
        (error or "") if status == Prediction.Status.REJECTED else "",
    ]
    return [neutralise(cell) for cell in cells]


def _upload_order(position: int | None, frame: int | None) -> str:
    """As Scan.upload_order: "3", or "3.2" for frame 2 of a multi-frame third file."""
    if position is None:
        return ""
    return str(position) if frame is None else f"{position}.{frame + 1}"


def neutralise(cell: str) -> str:
    """Prefix an apostrophe so a spreadsheet shows the text instead of running a formula."""
    return "'" + cell if runs_as_formula(cell) else cell


def runs_as_formula(cell: str) -> bool:
    """Whether a spreadsheet could take `cell` for a formula: its first character, or the first
    one after NFKC normalisation ("＝" is "=") and any leading invisible format characters or
    spaces ("\ufeff=", which an importer strips), is one of FORMULA_START."""
    if not cell:
        return False
    if cell[0] in FORMULA_START:
        return True
    text = unicodedata.normalize("NFKC", cell)
    start = next((c for c in text if unicodedata.category(c) not in ("Cf", "Zs")), None)
    return start is not None and start in FORMULA_START


def _number(value: object) -> str:
    return f"{value:.6f}" if isinstance(value, int | float) else ""
