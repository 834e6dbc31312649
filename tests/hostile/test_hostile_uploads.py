"""Hostile uploads through the web endpoints: a clear answer for each, never a 500, no debris.

Every case of tests/hostile/corpus.py goes through the upload form (all files in one request),
the upload page's per-file JSON endpoint and the REST API's POST /api/analyze. Accepted files are analysed in-process by the
real engine on the tiny test model (tasks run eagerly here, in both CI runs). Each case must
end in one of two ways:
- refused with a 4xx and a message for the clinician, and no row or file left behind; or
- stored, then REJECTED or FAILED with a message (DONE only for genuine MRI-like slices),
  with every file on disk belonging to a row and stored under a random name.
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from api.models import ApiToken
from predictions.models import Prediction, Scan
from tests.hostile.corpus import (
    BOUNDARY,
    DECODE_BOMB_SECONDS,
    SCRIPT,
    Case,
    Part,
    corpus,
    is_decode_bomb,
    multipart,
)

CASES = corpus()
ENDPOINTS = ("form", "file-json", "api")
URL_NAMES = {
    "form": "predictions:upload",
    "file-json": "predictions:upload-file",
    "api": "api:analyze",
}
STORED_NAME = re.compile(r"scans/\d+/[0-9a-f]{32}\.(jpg|png|webp|tif|dcm)")
FORM_ERROR = re.compile(r'<ul class="(?:errorlist|errors)[^"]*"[^>]*>\s*<li>([^<]+)')


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    from ml.testing import write_tiny_artifacts

    return write_tiny_artifacts(tmp_path_factory.mktemp("model"))


@pytest.fixture(autouse=True)
def _real_engine_fast_passwords(settings, tiny_model) -> None:
    settings.MODEL_PATH = tiny_model
    # bcrypt costs a second a user on a busy machine; this module creates one per case.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_the_corpus_is_large_and_varied():
    assert len(CASES) >= 200
    assert sum(case.may_succeed for case in CASES) < len(CASES) // 10


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_upload_gets_a_clear_answer_and_leaves_no_debris(
    case: Case,
    endpoint: str,
    clinician,
    clinician_client,
    private_root,
    settings,
    django_capture_on_commit_callbacks,
):
    for name, value in case.settings.items():
        setattr(settings, name, value)

    headers = {}
    if endpoint == "api":
        _token, key = ApiToken.issue(clinician, "hostile")
        headers["HTTP_AUTHORIZATION"] = f"Token {key}"

    with django_capture_on_commit_callbacks(execute=True):
        response = send(clinician_client, endpoint, case, headers)

    assert response.status_code < 500
    if response.status_code >= 400:
        assert message_of(response), response.content[:300]
        assert not Scan.objects.exists()
        assert not Prediction.objects.exists()
    else:
        assert response.status_code in (200, 201, 202, 302), response.status_code
        assert_each_scan_finished_with_a_message(case)
    assert_no_unescaped_script(response)
    assert files_on_disk(private_root) == files_of_rows()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("case", [c for c in CASES if is_decode_bomb(c)], ids=lambda c: c.name)
def test_decode_bombs_are_refused_from_their_headers_quickly(
    case: Case, endpoint: str, clinician, clinician_client
):
    """Frames, rows × columns × frames and bits are checked before any pixel is decoded, and
    the pixels of a whole request are budgeted (MAX_UPLOAD_PIXELS). The API and the per-file
    endpoint take one file per request, so they refuse the several-PNG cases on that."""
    headers = {}
    if endpoint == "api":
        _token, key = ApiToken.issue(clinician, "hostile")
        headers["HTTP_AUTHORIZATION"] = f"Token {key}"

    started = time.perf_counter()
    response = send(clinician_client, endpoint, case, headers)
    elapsed = time.perf_counter() - started

    assert 400 <= response.status_code < 500, response.status_code
    assert message_of(response)
    assert not Scan.objects.exists()
    assert elapsed < DECODE_BOMB_SECONDS, f"{case.name} took {elapsed:.1f} s to refuse"


def send(client, endpoint: str, case: Case, headers: dict[str, str]):
    url = reverse(URL_NAMES[endpoint])
    field = "image" if endpoint == "api" else "images"  # the API takes one "image"
    extra = {"batch": str(uuid.uuid4())} if endpoint == "file-json" else {}
    if case.raw_body is not None:
        return client.generic("POST", url, case.raw_body, content_type=case.content_type, **headers)
    if case.parts is not None:
        parts: list[Part] = [(name, None, value.encode()) for name, value in extra.items()]
        parts += [
            (field if name == "images" else name, filename, content)
            for name, filename, content in case.parts
        ]
        body = multipart(parts)
        body = body[: len(body) - case.cut]
        content_type = case.content_type or f"multipart/form-data; boundary={BOUNDARY}"
        return client.generic("POST", url, body, content_type=content_type, **headers)
    data: dict[str, object] = {**case.fields, **extra}
    if case.files:
        data[field] = [SimpleUploadedFile(name, content) for name, content in case.files]
    return client.post(url, data, **headers)


def message_of(response) -> str:
    """The text a clinician (or the page's script) is shown for a refusal."""
    if response["Content-Type"].startswith("application/json"):
        body = response.json()
        return str(body.get("detail") or body.get("error") or "")  # the API's, the page's
    text = response.content.decode("utf-8", "replace")
    found = FORM_ERROR.search(text)
    if found:
        return found.group(1).strip()
    return "Bad Request" if "Bad Request (400)" in text else ""


def assert_each_scan_finished_with_a_message(case: Case) -> None:
    scans = list(Scan.objects.select_related("prediction"))
    assert scans, "accepted but nothing stored"
    for scan in scans:
        assert STORED_NAME.fullmatch(scan.image.name or ""), scan.image.name
        prediction = scan.prediction
        if prediction.status == Prediction.Status.DONE:
            assert case.may_succeed, f"{case.name} was analysed as a brain MRI"
        else:
            assert prediction.status in (Prediction.Status.REJECTED, Prediction.Status.FAILED)
            assert prediction.error.strip()


def assert_no_unescaped_script(response) -> None:
    if response["Content-Type"].startswith("text/html"):
        assert SCRIPT not in response.content
        assert b"<script>alert(1)</script>" not in response.content


def files_on_disk(root: Path) -> set[str]:
    return (
        {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
        if root.exists()
        else set()
    )


def files_of_rows() -> set[str]:
    names = set(Scan.objects.exclude(image="").values_list("image", flat=True))
    for heatmap, overlay in Prediction.objects.values_list("heatmap", "overlay"):
        names.update(name for name in (heatmap, overlay) if name)
    return names
