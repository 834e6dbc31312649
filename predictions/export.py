"""Every CSV file brainscan writes, through one streamer (`stream_csv`, `csv_response`): a
clinician's (filtered) history, every reviewed case for audit, and the studies' files
(studies.views). Cells go through `csv_cell`: text with a spreadsheet-formula guard, numbers
with 6 decimals.

The history's rows are read in keyset pages of CHUNK_SIZE along the history's own order (newest first,
ties by id), not with one big query: MySQL's client library buffers a whole result set
even behind QuerySet.iterator(), so 100 000 rows would sit in memory at once. Each page is
one indexed query; memory stays at one page whatever the history's size.
"""

from __future__ import annotations

import csv
import itertools
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, tzinfo
from typing import Any, TypeVar

from django.db.models import Q, QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone

from predictions.models import CLASSES, Prediction, Scan

T = TypeVar("T")
CHUNK_SIZE = 2000
REVIEWED_CHUNK_SIZE = 500
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
REVIEWED_HEADER = [
    "scan_id",
    "uploaded_at",
    "model_version",
    "ai_label",
    "confidence",
    "tumour_probability",
    "risk",
    "verdict",
    "reviewer_label",
    "reviewed_by",
    "reviewed_at",
    "note",
]
# A spreadsheet runs a cell that starts with one of these as a formula (CWE-1236).
FORMULA_START = "=+-@\t\r"


# --- the one streamer ------------------------------------------------------------------------


class _Echo:
    """csv.writer writes into this and gets the line back, so nothing accumulates."""

    def write(self, value: str) -> str:
        return value


def stream_csv(
    header: Sequence[str], pages: Iterable[Iterable[Sequence[object]]]
) -> Iterator[bytes]:
    """The header, then one UTF-8 block of lines per page of rows; every cell through
    `csv_cell`."""
    writer = csv.writer(_Echo())
    yield writer.writerow([csv_cell(name) for name in header]).encode("utf-8")
    for page in pages:
        lines = (writer.writerow([csv_cell(value) for value in row]) for row in page)
        yield "".join(lines).encode("utf-8")


def csv_response(lines: Iterable[bytes], filename: str, *, stream: bool = True) -> HttpResponseBase:
    """An attachment, never cached: streamed, or for a small file (`stream=False`) whole."""
    response: HttpResponseBase
    if stream:
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(b"".join(lines), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


def chunked(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    """Pages of `size` rows (the last one shorter) from any iterable."""
    iterator = iter(rows)
    while page := list(itertools.islice(iterator, size)):
        yield page


def csv_cell(value: object) -> str:
    """Text with a formula guard (`neutralise`); numbers as numbers (floats with 6 decimals);
    booleans as true/false; None as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6f}"
    if isinstance(value, int):
        return str(value)
    return neutralise(str(value))


def number(value: object) -> str:
    """A probability or confidence as text with 6 decimals; "" when there is none."""
    return f"{value:.6f}" if isinstance(value, int | float) else ""


def iso(moment: datetime | None, zone: tzinfo | None = None) -> str:
    """Local time (the site's zone, or `zone`) to the second; "" for none."""
    if moment is None:
        return ""
    return moment.astimezone(zone or timezone.get_current_timezone()).isoformat(timespec="seconds")


# --- a clinician's history -------------------------------------------------------------------


def history_csv(scans: QuerySet[Scan], filename: str) -> HttpResponseBase:
    return csv_response(csv_lines(scans), filename)


def csv_lines(scans: QuerySet[Scan], chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """The history's header, then one UTF-8 block of lines per page of rows."""
    zone = timezone.get_current_timezone()  # once: per-row lookups cost a third of the time
    pages = ([_csv_row(row, zone) for row in page] for page in _pages(scans, chunk_size))
    return stream_csv(HEADER, pages)


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
        iso(uploaded_at, zone),
        str(batch),
        _upload_order(position, frame),
        sha256,
        status or "",
        label or "",
        *[number(probabilities.get(name)) for name in CLASSES],
        number(tumour),
        risk or "",
        version or "",
        verdict or "",
        reviewed_label or "",
        note or "",
        reviewer_name or reviewer_email or "",
        iso(reviewed_at, zone),
        (error or "") if status == Prediction.Status.REJECTED else "",
    ]
    return cells  # text only: stream_csv guards each cell against formulas


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


# --- every reviewed case (audit) -------------------------------------------------------------


def reviewed_csv_lines(predictions: QuerySet[Prediction]) -> Iterator[bytes]:
    """The reviewed cases, the ground truth the model in use is measured against."""
    rows = (_reviewed_row(p) for p in predictions.iterator(chunk_size=REVIEWED_CHUNK_SIZE))
    return stream_csv(REVIEWED_HEADER, chunked(rows, REVIEWED_CHUNK_SIZE))


def _reviewed_row(prediction: Prediction) -> list[str]:
    return [
        str(prediction.scan_id),
        iso(prediction.scan.uploaded_at),
        prediction.model_version,
        prediction.label,
        number(prediction.confidence),
        number(prediction.tumour_probability),
        prediction.risk,
        prediction.review_verdict,
        prediction.true_label,
        prediction.reviewed_by.email if prediction.reviewed_by else "",
        iso(prediction.reviewed_at),
        prediction.review_note,
    ]


def stamp() -> str:
    """The local minute, for file names."""
    return timezone.localtime().strftime("%Y%m%d-%H%M")
