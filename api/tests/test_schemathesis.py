"""Property-based tests of the API from its own OpenAPI schema, in-process through WSGI.

schemathesis generates requests for every operation (valid and invalid parameters, bodies and
images) and checks that nothing answers 500 and that every answer matches the schema. Kept to
a few examples per operation so the suite stays in seconds.
"""

from __future__ import annotations

from collections.abc import Iterator

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.models import ApiToken
from brainscan.wsgi import application
from predictions.tasks import run_prediction
from predictions.tests.factories import PredictionFactory

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def in_test_transaction() -> Iterator[None]:
    """Keep the test's database connection across requests, as Django's test client does.

    The real WSGI handler closes "old" connections when a request starts and ends; inside a
    test transaction that drops the connection on MySQL (SQLite's in-memory one survives).
    """
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def token_header(clinician, fake_engine) -> dict[str, str]:
    for _ in range(3):  # a few real, finished scans for the generated ids to hit
        run_prediction(PredictionFactory.create(scan__owner=clinician).pk)
    _token, key = ApiToken.issue(clinician, "schemathesis")
    return {"Authorization": f"Token {key}"}


# Loaded from the app itself; the schema view needs no database, so this works at collection.
schema = schemathesis.openapi.from_wsgi("/api/schema", application)


@schema.parametrize()
@hypothesis.settings(
    max_examples=15,
    deadline=None,
    derandomize=True,  # the same examples on every CI run: a failure is reproducible
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_api_matches_its_schema_and_never_fails(case, token_header, in_test_transaction, settings):
    settings.API_MAX_WAIT_SECONDS = 0  # a generated ?wait=30 must not hold the test 30 s
    settings.API_RATE_LIMIT = "100000/min"
    case.call_and_validate(headers=token_header, checks=CHECKS)
