"""The OpenAPI 3 description of the API, written by hand so it says exactly what we promise.

tests/test_schemathesis.py generates requests from it against the real app and checks that
responses match it, so it cannot drift from the code unnoticed.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.views import MAX_WAIT_SECONDS
from predictions.models import Label, Prediction, Risk


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


def _image(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"image/*": {"schema": {"type": "string", "format": "binary"}}},
    }


ERRORS = {
    "401": _error("No token, or a token that is not valid or has been revoked."),
    "403": _error("The account is not approved as a clinician."),
    "429": _error("Too many requests with this token; retry after `Retry-After` seconds."),
}


def _image_get(operation: str, summary: str, missing: str) -> dict[str, Any]:
    """The GET of an image endpoint: the image, or 404 saying what is `missing`."""
    return {
        "operationId": operation,
        "summary": summary,
        "responses": {"200": _image(summary), "404": _error(missing), **ERRORS},
    }


def _wait(description: str) -> dict[str, Any]:
    """The `wait` query parameter of a submission: seconds to wait for the result."""
    return {
        "name": "wait",
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_WAIT_SECONDS},
    }


def _multipart(name: str, upload: dict[str, Any], case_reference: dict[str, Any]) -> dict[str, Any]:
    """A submission's body: the upload field `name` (required) and an optional case reference."""
    return {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [name],
                    "properties": {name: upload, "case_reference": case_reference},
                }
            }
        },
    }


def _submitted(
    content: dict[str, Any], accepted: str, invalid: str, too_large: str
) -> dict[str, Any]:
    """A submission's answers: the result within `wait`, or 202 and where to poll; errors."""
    return {
        "200": {"description": "Finished within `wait` seconds.", "content": content},
        "202": {
            "description": accepted,
            "headers": {"Location": {"schema": URL}},
            "content": content,
        },
        "400": _error(invalid),
        **ERRORS,
        "413": _error(too_large),
        "415": _error("The body is not multipart/form-data."),
    }


SCAN_ID = {
    "name": "scan_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "format": "int64"},
}
RESULT = {"application/json": {"schema": {"$ref": "#/components/schemas/ScanResult"}}}
URL = {"type": "string", "format": "uri"}

SCAN_RESULT = {
    "type": "object",
    "required": ["prediction", "confidence", "id", "status", "finished", "status_url"],
    "properties": {
        "prediction": _nullable(
            {
                "type": "string",
                "enum": [*[name for _, name in Label.choices], None],
                "description": "The predicted class in words, when the analysis is done.",
                "example": "Glioma",
            }
        ),
        "confidence": _nullable({"type": "number", "minimum": 0, "maximum": 1, "example": 0.9997}),
        "id": {"type": "integer"},
        "status": {"type": "string", "enum": [value for value, _ in Prediction.Status.choices]},
        "finished": {"type": "boolean"},
        "label": _nullable({"type": "string", "enum": [*Label.values, None]}),
        "probabilities": _nullable(
            {
                "type": "object",
                "description": "Calibrated probability of each class.",
                "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1},
            }
        ),
        "tumour_probability": _nullable({"type": "number", "minimum": 0, "maximum": 1}),
        "risk": _nullable({"type": "string", "enum": [*Risk.values, None]}),
        "gate": {
            "type": "object",
            "description": "The input gate: is this a brain MRI slice at all?",
            "properties": {
                "accepted": _nullable({"type": "boolean"}),
                "score": _nullable({"type": "number"}),
            },
        },
        "unfamiliar": _nullable(
            {
                "type": "boolean",
                "description": "True when the scan is farther from the validated images than "
                "the gate's lower limit: the result is less reliable.",
            }
        ),
        "reliability_note": _nullable({"type": "string"}),
        "heatmap_class": _nullable(
            {"type": "string", "description": "The tumour class whose evidence the heatmap shows."}
        ),
        "error": _nullable(
            {"type": "string", "description": "Why the scan was rejected or failed."}
        ),
        "model_version": _nullable({"type": "string"}),
        "case_reference": {"type": "string"},
        "sha256": {
            "type": "string",
            "description": "SHA-256 of the uploaded file (of the rendered frame for DICOM): "
            "match it with `sha256sum`.",
        },
        "duplicate_of": _nullable(
            {
                "type": "object",
                "description": "Only in the answer to POST /api/analyze: your earlier scan of "
                "the same file (same SHA-256), or null. The new scan is stored anyway.",
                "properties": {
                    "id": {"type": "integer"},
                    "uploaded_at": {"type": "string", "format": "date-time"},
                    "status_url": URL,
                    "result_url": URL,
                },
            }
        ),
        "uploaded_at": {"type": "string", "format": "date-time"},
        "finished_at": _nullable({"type": "string", "format": "date-time"}),
        "review": _nullable(
            {
                "type": "object",
                "description": "A reviewing radiologist's verdict, once recorded.",
                "properties": {
                    "verdict": {"type": "string", "enum": ["agree", "corrected"]},
                    "label": _nullable({"type": "string", "enum": [*Label.values, None]}),
                    "note": {"type": "string"},
                    "reviewed_at": _nullable({"type": "string", "format": "date-time"}),
                },
            }
        ),
        "status_url": URL,
        "result_url": URL,
        "image_url": _nullable(URL),
        "heatmap_url": _nullable(URL),
        "overlay_url": _nullable(URL),
    },
}

STUDY_ID = {
    "name": "study_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "format": "int64"},
}
STUDY_STATUSES = ["pending", "running", "done", "rejected", "failed"]
PAGE = {
    "name": "page",
    "in": "query",
    "required": False,
    "schema": {"type": "integer", "minimum": 1},
}
STUDY = {"application/json": {"schema": {"$ref": "#/components/schemas/StudyResult"}}}
STUDY_RESULT = {
    "type": "object",
    "required": ["id", "status", "finished", "series", "slices_analysed", "status_url"],
    "properties": {
        "id": {"type": "integer"},
        "status": {"type": "string", "enum": STUDY_STATUSES},
        "finished": {"type": "boolean"},
        "slices_total": {"type": "integer", "description": "Slices the model reads."},
        "slices_analysed": {"type": "integer"},
        "label": _nullable(
            {
                "type": "string",
                "enum": [*Label.values, None],
                "description": "No tumour below the study's medium-risk threshold, else the "
                "likeliest tumour class of the slices that drive the result.",
            }
        ),
        "tumour_probability": _nullable(
            {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "description": "The study rule's value: the highest, over every run of k "
                "neighbouring analysed slices, of the lowest tumour probability in the run "
                "(k and the thresholds in `rule`).",
            }
        ),
        "risk": _nullable({"type": "string", "enum": [*Risk.values, None]}),
        "flagged_slices": {
            "type": "array",
            "items": {"type": "integer"},
            "description": "Indices of the slices at or above the medium-risk threshold.",
        },
        "driving_slices": {
            "type": "array",
            "items": {"type": "integer"},
            "description": "Indices of the run of slices that gives the study its probability.",
        },
        "rule": _nullable({"type": "object"}),
        "model_version": _nullable({"type": "string"}),
        "series": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "slices", "skipped_reason"],
                "properties": {
                    "id": {"type": "integer"},
                    "number": {"type": "integer"},
                    "source_format": {"type": "string", "enum": ["DICOM", "NIfTI"]},
                    "description": {"type": "string"},
                    "orientation": _nullable({"type": "string"}),
                    "handling": _nullable({"type": "string"}),
                    "source_slices": {"type": "integer"},
                    "slices": {"type": "integer", "description": "Slices analysed from it."},
                    "skipped_reason": _nullable({"type": "string"}),
                    "notes": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
        "file_errors": {
            "type": "array",
            "description": "Files that could not be read, by their number in the upload "
            "('2.14': the 14th file in the second, a zip).",
            "items": {
                "type": "object",
                "properties": {"file": {"type": "string"}, "error": {"type": "string"}},
            },
        },
        "error": _nullable({"type": "string"}),
        "case_reference": {"type": "string"},
        "source_format": {"type": "string"},
        "uploaded_at": {"type": "string", "format": "date-time"},
        "finished_at": _nullable({"type": "string", "format": "date-time"}),
        "status_url": URL,
        "slices_url": URL,
        "result_url": URL,
    },
}
SLICE_RESULT = {
    "type": "object",
    "required": ["index", "status", "position_mm", "image_url"],
    "properties": {
        "index": {"type": "integer"},
        "series": {"type": "integer"},
        "position_mm": {"type": "number", "description": "Along the slice normal (z, axial)."},
        "status": {"type": "string", "enum": ["pending", "done", "rejected"]},
        "label": _nullable({"type": "string", "enum": [*Label.values, None]}),
        "probabilities": _nullable({"type": "object", "additionalProperties": {"type": "number"}}),
        "tumour_probability": _nullable({"type": "number", "minimum": 0, "maximum": 1}),
        "risk": _nullable({"type": "string", "enum": [*Risk.values, None]}),
        "flagged": {"type": "boolean"},
        "gate_score": _nullable({"type": "number"}),
        "rejection_reason": _nullable({"type": "string"}),
        "unfamiliar": {"type": "boolean"},
        "heatmap_class": _nullable({"type": "string"}),
        "image_url": URL,
        "heatmap_url": _nullable(URL),
    },
}


def _page_of(ref: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["count", "results"],
        "properties": {
            "count": {"type": "integer"},
            "next": _nullable(URL),
            "previous": _nullable(URL),
            "results": {"type": "array", "items": {"$ref": f"#/components/schemas/{ref}"}},
        },
    }


STUDY_PATHS: dict[str, Any] = {
    "/api/studies": {
        "get": {
            "operationId": "listStudies",
            "summary": "Your studies, newest first, 25 a page",
            "parameters": [PAGE],
            "responses": {
                "200": {
                    "description": "One page of studies.",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/StudyPage"}}
                    },
                },
                "404": _error("No such page."),
                **ERRORS,
            },
        },
        "post": {
            "operationId": "submitStudy",
            "summary": "Submit a whole study: DICOM files, one .zip, or a NIfTI volume",
            "parameters": [_wait("Seconds to wait for the study result before answering.")],
            "requestBody": _multipart(
                "files",
                {
                    "type": "array",
                    "items": {"type": "string", "format": "binary"},
                    "description": "Repeated: the DICOM files of a folder; "
                    "or one .zip; or one .nii / .nii.gz.",
                },
                {"type": "string", "maxLength": 100},
            ),
            "responses": _submitted(
                STUDY,
                "Accepted; poll `status_url`.",
                "Nothing in the upload can be analysed, or a bad parameter.",
                "Over a study limit (bytes, voxels).",
            ),
        },
    },
    "/api/studies/{study_id}": {
        "parameters": [STUDY_ID],
        "get": {
            "operationId": "getStudy",
            "summary": "One of your studies, its series and its result",
            "responses": {
                "200": {"description": "The study.", "content": STUDY},
                "404": _error("You have no study with this id."),
                **ERRORS,
            },
        },
        "delete": {
            "operationId": "deleteStudy",
            "summary": "Delete one of your studies with all its slices, heatmaps and results",
            "responses": {
                "204": {"description": "Deleted."},
                "404": _error("You have no study with this id."),
                **ERRORS,
            },
        },
    },
    "/api/studies/{study_id}/slices": {
        "parameters": [STUDY_ID],
        "get": {
            "operationId": "listStudySlices",
            "summary": "The study's slices in order along the head, with results, 50 a page",
            "parameters": [PAGE],
            "responses": {
                "200": {
                    "description": "One page of slices.",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/SlicePage"}}
                    },
                },
                "404": _error("No such study of yours, or no such page."),
                **ERRORS,
            },
        },
    },
    **{
        f"/api/studies/{{study_id}}/slices/{{index}}/{name}": {
            "parameters": [
                STUDY_ID,
                {
                    "name": "index",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 0, "format": "int64"},
                },
            ],
            "get": _image_get(
                operation, summary, "No such study or slice of yours, or no such image (yet)."
            ),
        }
        for name, operation, summary in (
            ("image.png", "getStudySliceImage", "The slice as analysed (8-bit PNG)"),
            ("heatmap.png", "getStudySliceHeatmap", "The slice's Grad-CAM heatmap"),
        )
    },
}

SCHEMA: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "brainscan API",
        "version": "1",
        "description": (
            "Decision support, not a diagnosis: submit one brain MRI slice, or a whole "
            "study (DICOM series, a zip, a NIfTI volume), and read the model's "
            "classification, calibrated probabilities, risk level and Grad-CAM heatmap. Authenticate with `Authorization: Token <key>`; create keys on your "
            "account page."
        ),
    },
    "servers": [{"url": "/"}],
    "security": [{"token": []}],
    "paths": {
        "/api/analyze": {
            "post": {
                "operationId": "analyze",
                "summary": "Submit one slice for analysis",
                "parameters": [
                    _wait(
                        "Seconds to wait for the result before answering "
                        "(the server may cap it lower)."
                    )
                ],
                "requestBody": _multipart(
                    "image",
                    {
                        "type": "string",
                        "format": "binary",
                        "description": "JPEG, PNG, WEBP, TIFF or DICOM; one slice.",
                    },
                    {
                        "type": "string",
                        "maxLength": 100,
                        "description": "Your own reference; never a patient name.",
                    },
                ),
                "responses": _submitted(
                    RESULT,
                    "Accepted; poll `status_url` for the result.",
                    "Not an image we can analyse, or a bad parameter.",
                    "The image is larger than the upload limit.",
                ),
            }
        },
        "/api/scans": {
            "get": {
                "operationId": "listScans",
                "summary": "Your scans, newest first, 25 a page",
                "parameters": [
                    {
                        "name": "page",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "One page of results.",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ScanPage"}
                            }
                        },
                    },
                    "404": _error("No such page."),
                    **ERRORS,
                },
            }
        },
        "/api/scans/{scan_id}": {
            "parameters": [SCAN_ID],
            "get": {
                "operationId": "getScan",
                "summary": "One of your scans and its result",
                "responses": {
                    "200": {"description": "The scan.", "content": RESULT},
                    "404": _error("You have no scan with this id."),
                    **ERRORS,
                },
            },
            "delete": {
                "operationId": "deleteScan",
                "summary": "Delete one of your scans with its image, heatmap and result",
                "responses": {
                    "204": {"description": "Deleted."},
                    "404": _error("You have no scan with this id."),
                    **ERRORS,
                },
            },
        },
        **{
            f"/api/scans/{{scan_id}}/{path}": {
                "parameters": [SCAN_ID],
                "get": _image_get(
                    operation, summary, "No such scan of yours, or no such image (yet)."
                ),
            }
            for path, operation, summary in (
                ("image", "getScanImage", "The uploaded slice, as stored"),
                ("overlay.png", "getOverlay", "The Grad-CAM heatmap over the slice"),
                ("heatmap.png", "getHeatmap", "The Grad-CAM heatmap alone"),
            )
        },
        **STUDY_PATHS,
    },
    "components": {
        "securitySchemes": {
            "token": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`Token <key>`",
            }
        },
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error", "detail"],
                "properties": {
                    "error": {"type": "string", "example": "not_found"},
                    "detail": {"type": "string"},
                    "fields": {"type": "object"},
                    "retry_after_seconds": {"type": "integer"},
                },
            },
            "ScanResult": SCAN_RESULT,
            "StudyResult": STUDY_RESULT,
            "SliceResult": SLICE_RESULT,
            "StudyPage": _page_of("StudyResult"),
            "SlicePage": _page_of("SliceResult"),
            "ScanPage": _page_of("ScanResult"),
        },
    },
}


class SchemaView(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)
    renderer_classes = (JSONRenderer,)

    def get(self, request: Request) -> Response:
        return Response(SCHEMA)
