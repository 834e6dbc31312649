"""Real services for integration tests: MySQL/MariaDB, Redis and `celery worker` processes.

These tests run only in the services run of .ci/run (`make test-services` with DB=mysql and
REDIS_URL set). Each worker is a separate OS process started with the same settings as a
production worker, pointed at the test database and the test's private storage.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from bench.stack import WorkerProcess

ROOT = Path(__file__).resolve().parents[2]
SHARED_TESTING = ROOT.parent / "shared" / "datasets" / "brain-tumor-mri" / "Testing"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if str(item.fspath).startswith(str(Path(__file__).parent)):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def services_available() -> None:
    if (
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.mysql"
        or not settings.REDIS_URL
    ):
        pytest.fail("integration tests need DB=mysql and REDIS_URL (run them through .ci/run)")


@pytest.fixture
def worker_env(services_available, transactional_db, settings, tmp_path) -> dict[str, str]:
    """Environment for a worker that shares this test's database and private storage."""
    env = dict(os.environ)
    env.update(
        DB="mysql",
        DB_NAME=connection.settings_dict["NAME"],
        PRIVATE_MEDIA_ROOT=str(settings.PRIVATE_MEDIA_ROOT),
        DJANGO_SETTINGS_MODULE="brainscan.settings",
        PYTHONUNBUFFERED="1",
        BRAINSCAN_TF_THREADS="1",
    )
    return env


@pytest.fixture
def start_worker(worker_env, tmp_path) -> Iterator[Callable[..., WorkerProcess]]:
    workers: list[WorkerProcess] = []

    def start(
        model_path: Path | None = None, name: str | None = None, **extra_env: str
    ) -> WorkerProcess:
        env = dict(worker_env, **extra_env)
        if model_path is not None:
            env["MODEL_PATH"] = str(model_path)
        worker = WorkerProcess(
            env, tmp_path / f"worker-{len(workers)}.log", name or f"w{len(workers)}"
        )
        workers.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def flush_queue(services_available) -> None:
    """Start from an empty broker: messages from earlier runs refer to other databases."""
    import redis

    redis.Redis.from_url(settings.REDIS_URL).flushdb()


def wait_for(predicate: Callable[[], bool], timeout: float = 120, interval: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout}s")


def real_test_slices(count: int) -> list[Path]:
    """A few official test images per class, read from ../shared (never copied into the repo)."""
    if not SHARED_TESTING.is_dir():
        pytest.fail(
            f"the data set is not at {SHARED_TESTING}; CI places ../shared beside the clone"
        )
    classes = sorted(p for p in SHARED_TESTING.iterdir() if p.is_dir())
    per_class = [sorted(c.glob("*.jpg")) for c in classes]
    picked = [files[i] for i in range(count) for files in per_class if i < len(files)]
    return picked[:count]
