"""Fixtures shared by every Django test: the cast (as healthchecks' alice, bob and charlie),
private storage in a temporary folder, tiny real images and a fake inference engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.test import Client

from accounts.models import User
from accounts.tests.factories import PASSWORD, UserFactory, make_clinician, make_reviewer_user
from predictions.models import Prediction
from predictions.tasks import run_prediction
from predictions.tests.factories import PredictionFactory
from predictions.tests.fakes import FakeEngine


def _allow_audit_flush(sender: object, connection: BaseDatabaseWrapper, **_: object) -> None:
    """On MySQL/MariaDB, triggers refuse DELETE on the audit table (audit migration 0004)
    unless the session says it is maintenance; the test database's flush between tests is.
    audit/tests/test_triggers.py unsets it to see the triggers refuse."""
    if getattr(connection, "vendor", "") == "mysql":
        with connection.cursor() as cursor:
            cursor.execute("SET @brainscan_audit_maintenance = 1")


connection_created.connect(_allow_audit_flush, dispatch_uid="tests.allow_audit_flush")


@pytest.fixture(autouse=True)
def _private_storage(settings, tmp_path: Path) -> Path:
    """Scans and heatmaps written by a test go to its own temporary folder."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return settings.PRIVATE_MEDIA_ROOT


@pytest.fixture(autouse=True)
def _task_mode(request: pytest.FixtureRequest) -> Iterator[None]:
    """Unit tests run tasks in-process even when REDIS_URL is set (the services run of CI);
    integration tests send them to the real broker and a real worker."""
    from brainscan.celery import app

    eager = request.node.get_closest_marker("integration") is None
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = eager
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Rate-limit counters live in the cache (Redis in the services run): start each test clean."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def private_root(settings) -> Path:
    return Path(settings.PRIVATE_MEDIA_ROOT)


@pytest.fixture
def clinician(db) -> User:
    return make_clinician(email="alice@example.org")


@pytest.fixture
def other_clinician(db) -> User:
    return make_clinician(email="bob@example.org")


@pytest.fixture
def reviewer(db) -> User:
    return make_reviewer_user(email="rita@example.org")


@pytest.fixture
def pending_user(db) -> User:
    """Signed up, not yet approved as a clinician."""
    return UserFactory.create(email="newcomer@example.org")


def _client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def clinician_client(clinician: User) -> Client:
    return _client_for(clinician)


@pytest.fixture
def other_client(other_clinician: User) -> Client:
    return _client_for(other_clinician)


@pytest.fixture
def reviewer_client(reviewer: User) -> Client:
    return _client_for(reviewer)


@pytest.fixture
def fake_engine(monkeypatch) -> FakeEngine:
    """Replace the worker's engine; counts calls so tests can prove idempotency."""
    engine = FakeEngine()
    monkeypatch.setattr("predictions.tasks._engine", lambda: engine)
    return engine


@pytest.fixture
def study_engine(monkeypatch):
    """The study worker's engine replaced by one that reads each slice (studies/tests/fakes.py)."""
    from studies.tests.fakes import FakeStudyEngine

    engine = FakeStudyEngine()
    monkeypatch.setattr("predictions.tasks._engine", lambda: engine)
    return engine


@pytest.fixture
def done(clinician: User, fake_engine: FakeEngine) -> Prediction:
    """One of the clinician's scans, analysed by the fake engine."""
    prediction = PredictionFactory.create(scan__owner=clinician)
    run_prediction(prediction.pk)
    prediction.refresh_from_db()
    return prediction


@pytest.fixture
def admin_client(db) -> Client:
    """A superuser's client (pytest-django's own assumes a username field; ours signs in by
    e-mail)."""
    return _client_for(User.objects.create_superuser("root@example.org", PASSWORD))


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Put the SQLite test database in a file when the session has browser tests.

    An in-memory SQLite database is one connection, which Django shares between the live
    server's request threads and the test thread; concurrent uploads then interleave their
    transactions on it (the browser test failed 2 runs in 3 that way). A file gives every
    thread its own connection. A test that calls the WSGI app itself must then keep
    close_old_connections away from its transaction, as api/tests/test_schemathesis.py does.
    """
    from django.conf import settings

    database = settings.DATABASES["default"]
    browser = any(item.get_closest_marker("browser") for item in request.session.items)
    if browser and database["ENGINE"].endswith("sqlite3"):
        database.setdefault("TEST", {})["NAME"] = str(
            tmp_path_factory.mktemp("db") / "test.sqlite3"
        )
