"""Responses for private files: stored scans and Grad-CAM images, which have no public URL.

Shared by the web views and the REST API so both send the same headers.
"""

from __future__ import annotations

from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404


def private_file_response(field: FieldFile, content_type: str, filename: str) -> FileResponse:
    """The stored file, inline, never cached, never sniffed or run as a document; else 404."""
    if not field:
        raise Http404
    try:
        handle = field.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(handle, content_type=content_type, filename=filename)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
