"""Nothing uploaded is lost, duplicated or stuck, whatever fails.

Real `celery worker` (and `celery beat`, gunicorn) processes on MySQL/MariaDB + Redis, with
faults injected from the test: SIGKILL of a worker mid-analysis, a Redis restart that loses
every queued message, Redis down or hung during uploads, Redis hung under established
connections (a worker acking, one idle, beat, gunicorn's pools), the worker's database
connection killed mid-task, and a scan that kills its worker process every time it is
analysed.

The slow scan is real, not a test switch in the code: a 3000x3000 slice takes the tiny model
seconds to analyse (Grad-CAM overlay at full size), a window wide enough to strike in.
The Redis faults are real too: such a test starts its own `redis-server` on a loopback port
(tests/integration/redis_server.py; nothing on disk, so a restart loses every message), points
the worker, beat, gunicorn and the in-process Django side at it, and stops it with SIGTERM or
SIGKILL, starts an empty one on the same port, or freezes it with SIGSTOP (connections are
accepted by the kernel, nothing is answered) and continues it with SIGCONT. The shared Redis
server is never stopped or frozen.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import psutil
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import PASSWORD
from api.models import ApiToken
from bench.stack import WebServer, beat_process, clinician_client, sign_in
from bench.stack import upload as http_upload
from predictions.models import Prediction, Scan
from tests.integration.conftest import wait_for
from tests.integration.redis_server import RedisServer

pytestmark = pytest.mark.integration

STALE = 3  # seconds before a RUNNING row counts as abandoned by its worker
SWEEP = 2  # seconds between recovery sweeps sent by beat
Status = Prediction.Status


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    from ml.testing import write_tiny_artifacts

    return write_tiny_artifacts(tmp_path_factory.mktemp("model"))


def _drop_broker_connections() -> None:
    """Make the in-process Celery app connect afresh, to the broker now in settings.

    The app reads CELERY_BROKER_URL from the settings on each use, but keeps its connection and
    producer pools, and kombu keeps every pool in a global registry: closing only the app's
    pool would leave a closed pool there for the next test's broker ("Acquire on closed
    pool", every upload then waits for a sweep). So kombu's pools are all closed and
    forgotten, and the app's references dropped, as both libraries do after a fork.
    """
    from kombu import pools

    from brainscan.celery import app

    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def redis_server(services_available, settings, tmp_path) -> Iterator[RedisServer]:
    """This test's own redis-server, the broker and cache of everything the test runs.

    Processes get its URL as REDIS_URL in their environment; the in-process side (the test
    client's uploads, the cache) through the settings, restored after the test.
    """
    server = RedisServer(tmp_path / "redis")
    settings.REDIS_URL = settings.CELERY_BROKER_URL = server.url
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": server.url}}
    _drop_broker_connections()
    yield server
    _drop_broker_connections()
    server.stop()


@pytest.fixture
def start_beat(worker_env, tmp_path):
    started = []

    def start(**extra_env: str):
        env = dict(worker_env, PREDICTION_SWEEP_SECONDS=str(SWEEP), **extra_env)
        started.append(beat_process(env, tmp_path / f"beat-{len(started)}.log"))
        return started[-1]

    yield start
    for service in started:
        service.stop()


def slow_slice(seed: int = 7) -> bytes:
    """A 3000x3000 MRI-like slice: valid, accepted by the gate, and seconds to analyse."""
    from ml.testing import mri_like

    big = cv2.resize(mri_like(512, seed), (3000, 3000), interpolation=cv2.INTER_LINEAR)
    return cv2.imencode(".png", big)[1].tobytes()


def small_slices(count: int) -> list[tuple[str, bytes]]:
    from ml.testing import mri_like_png

    return [(f"slice-{seed}.png", mri_like_png(96, seed)) for seed in range(count)]


def upload(client, *files: tuple[str, bytes]) -> list[Prediction]:
    before = set(Scan.objects.values_list("pk", flat=True))
    response = client.post(
        reverse("predictions:upload"),
        {"images": [SimpleUploadedFile(name, data) for name, data in files]},
    )
    assert response.status_code == 302, response.content[:500]
    return [s.prediction for s in Scan.objects.exclude(pk__in=before).order_by("id")]


def fresh(prediction: Prediction) -> Prediction:
    return Prediction.objects.get(pk=prediction.pk)


def all_finished(predictions: list[Prediction]) -> bool:
    return all(fresh(p).status in Prediction.FINISHED for p in predictions)


def is_analysing(prediction: Prediction, worker) -> bool:
    """Claimed, and the worker has its model loaded: the slow part has begun."""
    return fresh(prediction).status == Status.RUNNING and "loaded model" in worker.log_text()


def assert_each_done_once(predictions: list[Prediction], private_root: Path) -> None:
    """Every scan DONE, none left running, and exactly its own two result files on disk."""
    rows = [fresh(p) for p in predictions]
    assert [r.status for r in rows] == [Status.DONE] * len(rows), [r.error for r in rows]
    referenced = {name for r in rows for name in (r.heatmap.name, r.overlay.name)}
    on_disk = {
        str(path.relative_to(private_root)) for path in (private_root / "results").rglob("*.png")
    }
    assert len(referenced) == 2 * len(rows)
    assert on_disk == referenced  # no duplicate result and no orphan file
    assert not Prediction.objects.filter(status=Status.RUNNING).exists()


def queued_scans(server: RedisServer) -> int:
    """run_prediction messages waiting in the server's queue (beat's sweeps wait there too)."""
    messages = server.client().lrange("celery", 0, -1)
    tasks = [json.loads(message)["headers"]["task"] for message in messages]
    return tasks.count("predictions.tasks.run_prediction")


def wait_until_stale(prediction: Prediction) -> None:
    started = fresh(prediction).started_at
    assert started is not None
    delay = STALE + 0.5 - (timezone.now() - started).total_seconds()
    if delay > 0:
        time.sleep(delay)


def test_worker_killed_mid_analysis_then_a_new_worker_finishes_every_scan_once(
    clinician_client, flush_queue, start_worker, tiny_model, private_root
):
    env = {"PREDICTION_STALE_AFTER_SECONDS": str(STALE)}
    first = start_worker(model_path=tiny_model, name="doomed", **env)
    slow, *others = upload(clinician_client, ("big.png", slow_slice()), *small_slices(3))

    wait_for(lambda: is_analysing(slow, first), timeout=60, interval=0.05)
    first.kill()  # SIGKILL, as the OOM killer would: no chance to clean up or requeue

    assert fresh(slow).status == Status.RUNNING  # orphaned: nobody works on it any more
    wait_until_stale(slow)
    start_worker(model_path=tiny_model, name="successor", **env)  # its start-up sweep
    wait_for(lambda: all_finished([slow, *others]), timeout=60)

    assert_each_done_once([slow, *others], private_root)
    assert fresh(slow).attempts == 2
    assert [fresh(p).attempts for p in others] == [1, 1, 1]


def test_queue_lost_while_no_worker_runs_is_rebuilt_by_the_next_worker(
    clinician_client, redis_server, start_worker, tiny_model, private_root
):
    predictions = upload(clinician_client, *small_slices(3))
    assert redis_server.client().llen("celery") == 3
    redis_server.stop()  # SIGTERM; it keeps nothing on disk
    redis_server.start()
    assert redis_server.client().llen("celery") == 0  # the restart lost the messages

    start_worker(
        model_path=tiny_model,
        REDIS_URL=redis_server.url,
        PREDICTION_REQUEUE_PENDING_AFTER_SECONDS="0",
    )
    wait_for(lambda: all_finished(predictions), timeout=60)

    assert_each_done_once(predictions, private_root)
    assert [fresh(p).attempts for p in predictions] == [1, 1, 1]


@pytest.mark.parametrize("stop", ["stop", "kill"], ids=["SIGTERM", "SIGKILL"])
def test_redis_restart_while_scans_are_queued_loses_nothing(
    stop, clinician_client, redis_server, start_worker, start_beat, tiny_model, private_root
):
    env = {"REDIS_URL": redis_server.url, "PREDICTION_REQUEUE_PENDING_AFTER_SECONDS": "1"}
    worker = start_worker(model_path=tiny_model, PREDICTION_STALE_AFTER_SECONDS="60", **env)
    beat = start_beat(**env)
    slow, *queued = upload(clinician_client, ("big.png", slow_slice()), *small_slices(3))
    wait_for(lambda: is_analysing(slow, worker), timeout=60, interval=0.05)
    assert queued_scans(redis_server) == 3

    getattr(redis_server, stop)()  # shut down cleanly, or crash; it keeps nothing on disk
    redis_server.start()  # an empty server on the same port
    assert queued_scans(redis_server) == 0  # the three queued messages are gone

    wait_for(lambda: all_finished([slow, *queued]), timeout=60)
    assert "Connection to broker lost" in worker.log_text()
    assert "recovery sweep queued 3 of 3" in worker.log_text()
    assert beat.process.poll() is None
    assert_each_done_once([slow, *queued], private_root)
    assert [fresh(p).attempts for p in [slow, *queued]] == [1, 1, 1, 1]


@pytest.fixture
def web(worker_env, redis_server, tmp_path):
    env = dict(worker_env, REDIS_URL=redis_server.url)
    server = WebServer(env, tmp_path / "web.log", workers=1)
    server.wait_ready()
    yield server
    server.stop()


def test_uploads_and_sign_in_while_redis_is_down_or_hung_work_then_scans_finish(
    clinician, redis_server, start_worker, start_beat, web, tiny_model, private_root
):
    env = {"REDIS_URL": redis_server.url, "PREDICTION_REQUEUE_PENDING_AFTER_SECONDS": "1"}
    start_worker(model_path=tiny_model, **env)
    start_beat(**env)
    client = clinician_client(web.base_url)
    sign_in(client, clinician.email, PASSWORD)
    slices = small_slices(4)

    redis_server.stop()  # Redis down (SIGTERM): connections refused
    started = time.monotonic()
    down = http_upload(client, slices[:3])
    refused_seconds = time.monotonic() - started
    _token, key = ApiToken.issue(clinician, "fault test")
    api = client.post(
        "/api/analyze",
        headers={"Authorization": f"Token {key}"},
        files={"image": ("api.png", small_slices(5)[4][1], "image/png")},
    )
    late = clinician_client(web.base_url)
    sign_in(late, clinician.email, PASSWORD)  # rate-limit counters are in Redis: not a 500
    # Redis back on its port and frozen at once (SIGSTOP a few ms after it first answers, far
    # too short for a sweep to queue and a worker to take a scan): the kernel accepts
    # connections, nothing answers.
    redis_server.start()
    redis_server.freeze()
    started = time.monotonic()
    hung = http_upload(client, slices[3:])
    hung_seconds = time.monotonic() - started

    assert (down.status_code, api.status_code, hung.status_code) == (302, 202, 302)
    assert refused_seconds < 10  # bounded by the broker timeouts, not hanging
    assert hung_seconds < 20
    predictions = [scan.prediction for scan in Scan.objects.order_by("id")]
    assert [fresh(p).status for p in predictions] == [Status.PENDING] * 5
    redis_server.thaw()  # SIGCONT: it serves its waiting connections; worker and beat reconnect
    wait_for(lambda: all_finished(predictions), timeout=60)
    assert_each_done_once(predictions, private_root)


# Redis frozen for longer than every socket timeout in the settings (cache 1 s, broker 5 s).
FREEZE = 15
# An upload while Redis hangs under established connections: the publish on the pooled
# connection waits out the broker socket timeout (5 s), then kombu's one publish retry tries
# to reconnect twice, each handshake waiting it out again: 15 s measured; 5 s to spare.
HUNG_UPLOAD_SECONDS = 20


def tasks_received_since(worker, offset: int) -> int:
    lines = worker.log_text()[offset:].splitlines()
    return sum("run_prediction[" in line and line.endswith("received") for line in lines)


@pytest.mark.parametrize("recover", ["thaw", "replace"], ids=["thawed", "killed-and-replaced"])
def test_redis_hung_under_established_connections_then_every_scan_finishes_once(
    recover, clinician, redis_server, start_worker, start_beat, web, tiny_model, private_root
):
    """Redis freezes while every connection is established and in use, then comes back.

    Two workers (one mid-analysis, whose ack falls in the freeze; one idle in its BRPOP),
    beat, and gunicorn with pooled broker and cache connections. Redis stays frozen FREEZE
    seconds while uploads are answered, then is continued (SIGCONT) or, a hung server
    replaced, killed while frozen and started empty on the same port.
    """
    from ml.testing import mri_like_png

    env = {"REDIS_URL": redis_server.url, "PREDICTION_REQUEUE_PENDING_AFTER_SECONDS": "1"}
    workers = [start_worker(model_path=tiny_model, name=f"w{i}", **env) for i in range(2)]
    beat = start_beat(**env)
    client = clinician_client(web.base_url)
    sign_in(client, clinician.email, PASSWORD)
    _token, key = ApiToken.issue(clinician, "fault test")

    def api_upload(seed: int):
        image = ("api.png", mri_like_png(96, seed), "image/png")
        return client.post(
            "/api/analyze", headers={"Authorization": f"Token {key}"}, files={"image": image}
        )

    def new_predictions(before: set[int]) -> list[Prediction]:
        return [s.prediction for s in Scan.objects.exclude(pk__in=before).order_by("id")]

    # Warm up: every process has its broker connection (gunicorn its cache one too) in use.
    assert http_upload(client, small_slices(4)).status_code == 302
    assert api_upload(50).status_code == 202
    warm = new_predictions(set())
    wait_for(lambda: all_finished(warm), timeout=60)

    before = set(Scan.objects.values_list("pk", flat=True))
    assert http_upload(client, [("big.png", slow_slice())]).status_code == 302
    (slow,) = new_predictions(before)
    wait_for(lambda: fresh(slow).status == Status.RUNNING, timeout=60, interval=0.02)

    before = set(Scan.objects.values_list("pk", flat=True))
    redis_server.freeze()
    frozen_at = started = time.monotonic()
    form = http_upload(client, [(f"f{seed}.png", mri_like_png(96, seed)) for seed in (60, 61)])
    form_seconds = time.monotonic() - started
    started = time.monotonic()
    api = api_upload(62)
    api_seconds = time.monotonic() - started
    during = new_predictions(before)
    time.sleep(max(0.0, FREEZE - (time.monotonic() - frozen_at)))
    # The slow scan was stored during the freeze; its worker's ack could not reach Redis.
    assert fresh(slow).status == Status.DONE
    assert "Couldn't ack" in "".join(w.log_text() for w in workers)
    offsets = [len(w.log_text()) for w in workers]
    if recover == "thaw":
        redis_server.thaw()  # SIGCONT: it answers every connection that waited
    else:
        redis_server.kill()  # SIGKILL while frozen: the kernel resets its clients' sockets
        redis_server.start()  # an empty server on the same port

    assert (form.status_code, api.status_code) == (302, 202)
    assert form_seconds < HUNG_UPLOAD_SECONDS, form_seconds
    assert api_seconds < HUNG_UPLOAD_SECONDS, api_seconds
    assert [fresh(p).status for p in during] == [Status.PENDING] * 3
    everything = [*warm, slow, *during]
    wait_for(lambda: all_finished(everything), timeout=60)

    # Both workers consume again: two slow scans queued at once are analysed one by each
    # (a worker holds one message at a time).
    before = set(Scan.objects.values_list("pk", flat=True))
    assert http_upload(client, [("b8.png", slow_slice(8)), ("b9.png", slow_slice(9))]).is_redirect
    probes = new_predictions(before)
    wait_for(lambda: all_finished(probes), timeout=60)
    for worker, offset in zip(workers, offsets, strict=True):
        assert worker.process.poll() is None
        assert tasks_received_since(worker, offset) >= 1, worker.log_text()[-3000:]
    assert beat.process.poll() is None
    assert_each_done_once([*everything, *probes], private_root)
    print(f"{recover}: form upload {form_seconds:.1f} s, API upload {api_seconds:.1f} s")


def kill_worker_connections() -> int:
    """KILL the worker's MySQL connections (this test's own connection is spared)."""
    db = connection.settings_dict
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM information_schema.processlist "
            "WHERE user = %s AND db = %s AND id <> CONNECTION_ID()",
            [db["USER"], db["NAME"]],
        )
        ids = [row[0] for row in cursor.fetchall()]
        for connection_id in ids:
            cursor.execute(f"KILL {int(connection_id)}")
    return len(ids)


def test_database_connection_dropped_mid_task_is_retried_and_stored_once(
    clinician_client, flush_queue, start_worker, tiny_model, private_root
):
    # A long stale limit: only the task's own retry can finish the scan, not a sweep.
    worker = start_worker(model_path=tiny_model, PREDICTION_STALE_AFTER_SECONDS="600")
    (slow,) = upload(clinician_client, ("big.png", slow_slice()))
    wait_for(lambda: is_analysing(slow, worker), timeout=60, interval=0.05)

    assert kill_worker_connections() >= 1

    wait_for(lambda: all_finished([slow]), timeout=60)
    assert_each_done_once([slow], private_root)
    assert fresh(slow).attempts == 2
    assert "transient OperationalError, retrying" in worker.log_text()


def test_poison_scan_fails_after_the_attempt_cap_without_blocking_the_queue(
    clinician_client, flush_queue, start_worker, start_beat, tiny_model, private_root
):
    env = {
        "PREDICTION_STALE_AFTER_SECONDS": str(STALE),
        "PREDICTION_MAX_ATTEMPTS": "3",
        "PREDICTION_REQUEUE_PENDING_AFTER_SECONDS": "30",
    }
    worker = start_worker(model_path=tiny_model, **env)
    start_beat(**env)
    poison, *behind = upload(clinician_client, ("poison.png", slow_slice()), *small_slices(3))

    deadline = time.monotonic() + 60
    killed = 0
    while fresh(poison).status not in Prediction.FINISHED and time.monotonic() < deadline:
        if fresh(poison).status == Status.RUNNING and fresh(poison).attempts > killed:
            # Each analysis of this scan kills the process running it (as the OOM killer
            # would); the worker's main process survives and starts a new child.
            for child in psutil.Process(worker.process.pid).children():
                child.kill()
            killed = fresh(poison).attempts
        time.sleep(0.05)

    poison = fresh(poison)
    assert poison.status == Status.FAILED
    assert poison.error == "Analysis stopped after 3 attempts that did not finish."
    assert killed == 3
    wait_for(lambda: all_finished(behind), timeout=30)
    assert [fresh(p).status for p in behind] == [Status.DONE] * 3
    assert worker.process.poll() is None  # the worker itself is still serving
