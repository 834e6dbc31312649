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

SCHEMA: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "brainscan API",
        "version": "1",
        "description": (
            "Decision support, not a diagnosis: submit one brain MRI slice and read the "
            "model's classification, calibrated probabilities, risk level and Grad-CAM "
            "heatmap. Authenticate with `Authorization: Token <key>`; create keys on your "
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
                    {
                        "name": "wait",
                        "in": "query",
                        "required": False,
                        "description": "Seconds to wait for the result before answering "
                        "(the server may cap it lower).",
                        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_WAIT_SECONDS},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["image"],
                                "properties": {
                                    "image": {
                                        "type": "string",
                                        "format": "binary",
                                        "description": "JPEG, PNG, WEBP, TIFF or DICOM; one slice.",
                                    },
                                    "case_reference": {
                                        "type": "string",
                                        "maxLength": 100,
                                        "description": "Your own reference; never a patient name.",
                                    },
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {"description": "Finished within `wait` seconds.", "content": RESULT},
                    "202": {
                        "description": "Accepted; poll `status_url` for the result.",
                        "headers": {"Location": {"schema": URL}},
                        "content": RESULT,
                    },
                    "400": _error("Not an image we can analyse, or a bad parameter."),
                    **ERRORS,
                    "413": _error("The image is larger than the upload limit."),
                    "415": _error("The body is not multipart/form-data."),
                },
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
                "get": {
                    "operationId": operation,
                    "summary": summary,
                    "responses": {
                        "200": _image(summary),
                        "404": _error("No such scan of yours, or no such image (yet)."),
                        **ERRORS,
                    },
                },
            }
            for path, operation, summary in (
                ("image", "getScanImage", "The uploaded slice, as stored"),
                ("overlay.png", "getOverlay", "The Grad-CAM heatmap over the slice"),
                ("heatmap.png", "getHeatmap", "The Grad-CAM heatmap alone"),
            )
        },
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
            "ScanPage": {
                "type": "object",
                "required": ["count", "results"],
                "properties": {
                    "count": {"type": "integer"},
                    "next": _nullable(URL),
                    "previous": _nullable(URL),
                    "results": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/ScanResult"},
                    },
                },
            },
        },
    },
}


class SchemaView(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)
    renderer_classes = (JSONRenderer,)

    def get(self, request: Request) -> Response:
        return Response(SCHEMA)
