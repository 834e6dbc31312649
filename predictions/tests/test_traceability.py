"""Results a clinician can trace to their files (issue 14) without brainscan storing names.

Slices are numbered by their place in the upload; the CSV carries that number, the batch and
the file's SHA-256 (to match with `sha256sum`); a file this account uploaded before is
answered 409 on the upload page's endpoint (nothing stored, the page offers to go on), noted
on the result and batch pages, and named in the API's `duplicate_of`. File names are kept
by the browser alone (tests/browser); here: the server stores none.
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from api.tests.conftest import client_with_token
from predictions.models import Scan
from predictions.tests.images import jpeg_bytes, png_bytes

pytestmark = pytest.mark.django_db
UPLOAD = reverse("predictions:upload")
UPLOAD_FILE = reverse("predictions:upload-file")
EXPORT = reverse("predictions:export")
SECRET_NAME = "Doe-Jane-1961-03-04.png"


def send(client, data: bytes, *, batch: uuid.UUID, position: int | None = None, **extra):
    fields = {"images": SimpleUploadedFile(SECRET_NAME, data), "batch": str(batch), **extra}
    if position is not None:
        fields["position"] = str(position)
    return client.post(UPLOAD_FILE, fields)


def exported(client) -> list[dict[str, str]]:
    response = client.get(EXPORT)
    body = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(body, newline="")))


def test_files_are_numbered_by_their_place_in_the_selection_whatever_order_they_arrive(
    clinician_client, fake_engine
):
    batch = uuid.uuid4()
    for position, seed in ((3, 3), (1, 1), (2, 2)):  # parallel requests arrive in any order
        assert (
            send(clinician_client, png_bytes(seed=seed), batch=batch, position=position).status_code
            == 201
        )

    page = clinician_client.get(reverse("predictions:batch", args=[batch]))

    assert [s.upload_order for s in page.context["scans"]] == ["1", "2", "3"]
    html = page.content.decode()
    assert '<span class="cell upload-order">1</span>' in html
    first = page.context["scans"][0]
    detail = clinician_client.get(reverse("predictions:detail", args=[first.pk])).content.decode()
    assert (
        'id="upload-order">slice 1 of <a href="' + reverse("predictions:batch", args=[batch])
        in detail
    )


def test_the_form_without_javascript_numbers_its_files_too(clinician_client, fake_engine):
    files = [SimpleUploadedFile(f"{i}.png", png_bytes(seed=i)) for i in range(3)]

    clinician_client.post(UPLOAD, {"images": files})

    assert sorted(Scan.objects.values_list("upload_position", flat=True)) == [1, 2, 3]


def test_the_csv_has_batch_upload_order_and_the_files_sha256(clinician_client, fake_engine):
    batch = uuid.uuid4()
    data = jpeg_bytes(seed=7)
    send(clinician_client, png_bytes(seed=1), batch=batch, position=1)
    send(clinician_client, data, batch=batch, position=2)

    rows = exported(clinician_client)

    by_order = {row["upload_order"]: row for row in rows}
    assert set(by_order) == {"1", "2"}
    assert by_order["2"]["sha256"] == hashlib.sha256(data).hexdigest()  # what sha256sum prints
    assert {row["batch"] for row in rows} == {str(batch)}
    assert all(SECRET_NAME not in ",".join(row.values()) for row in rows)


def test_a_file_uploaded_before_is_answered_409_and_not_stored(clinician_client, fake_engine):
    first = send(clinician_client, png_bytes(seed=5), batch=uuid.uuid4(), position=1)
    earlier = Scan.objects.get()

    again = send(clinician_client, png_bytes(seed=5), batch=uuid.uuid4(), position=1)

    assert first.status_code == 201
    assert again.status_code == 409
    body = again.json()
    assert body["error"] == "You uploaded this file before."
    assert body["duplicate_of"]["id"] == earlier.pk
    assert body["duplicate_of"]["url"] == reverse("predictions:detail", args=[earlier.pk])
    assert body["duplicate_of"]["uploaded_at"]
    assert Scan.objects.count() == 1


def test_the_user_may_go_on_and_the_result_links_the_earlier_one(clinician_client, fake_engine):
    send(clinician_client, png_bytes(seed=5), batch=uuid.uuid4())
    earlier = Scan.objects.get()

    again = send(clinician_client, png_bytes(seed=5), batch=uuid.uuid4(), allow_duplicate="on")

    assert again.status_code == 201
    second = Scan.objects.exclude(pk=earlier.pk).get()
    assert second.sha256 == earlier.sha256
    html = clinician_client.get(reverse("predictions:detail", args=[second.pk])).content.decode()
    assert 'id="earlier-upload"' in html
    assert (
        f'<a href="{reverse("predictions:detail", args=[earlier.pk])}">scan {earlier.pk}</a>'
        in html
    )
    first_html = clinician_client.get(
        reverse("predictions:detail", args=[earlier.pk])
    ).content.decode()
    assert 'id="earlier-upload"' not in first_html  # a scan is not its own duplicate


def test_the_form_path_stores_and_the_batch_page_says_which_were_uploaded_before(
    clinician_client, fake_engine
):
    send(clinician_client, png_bytes(seed=5), batch=uuid.uuid4())
    earlier = Scan.objects.get()
    files = [
        SimpleUploadedFile("a.png", png_bytes(seed=5)),
        SimpleUploadedFile("b.png", png_bytes(seed=6)),
    ]

    response = clinician_client.post(UPLOAD, {"images": files})

    page = clinician_client.get(response.url)
    assert page.content.decode().count("Uploaded before as") == 1
    assert f"scan {earlier.pk}</a>" in page.content.decode()


def test_another_clinicians_copy_of_the_file_is_never_revealed(
    clinician_client, other_client, fake_engine
):
    send(other_client, png_bytes(seed=5), batch=uuid.uuid4())

    response = send(clinician_client, png_bytes(seed=5), batch=uuid.uuid4())

    assert response.status_code == 201
    mine = response.json()["scans"][0]["id"]
    html = clinician_client.get(reverse("predictions:detail", args=[mine])).content.decode()
    assert 'id="earlier-upload"' not in html


def test_the_api_names_the_earlier_scan_and_stores_the_new_one(clinician, fake_engine):
    client = client_with_token(clinician)
    image = lambda: SimpleUploadedFile("x.png", png_bytes(seed=9), "image/png")  # noqa: E731
    first = client.post(reverse("api:analyze"), {"image": image()}, format="multipart").json()

    second = client.post(reverse("api:analyze"), {"image": image()}, format="multipart").json()

    assert first["duplicate_of"] is None
    assert second["duplicate_of"]["id"] == first["id"]
    assert second["duplicate_of"]["result_url"].endswith(
        reverse("predictions:detail", args=[first["id"]])
    )
    assert second["id"] != first["id"]
    assert second["sha256"] == hashlib.sha256(png_bytes(seed=9)).hexdigest()
    assert Scan.objects.count() == 2


def test_no_file_name_reaches_the_database(clinician_client, fake_engine):
    send(clinician_client, png_bytes(seed=1), batch=uuid.uuid4(), position=1)

    scan = Scan.objects.get()
    stored = " ".join(str(getattr(scan, f.attname)) for f in Scan._meta.concrete_fields)
    assert "Doe" not in stored
