"""The real stack on loopback: gunicorn, `celery worker`/`celery beat` processes, and an HTTP
client that signs in and uploads the way a clinician's browser does.

Shared by the load benchmark (bench/load.py) and the fault tests (tests/integration). Every
address is 127.0.0.1; every process is started here and stopped by its own process group.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Service:
    """One OS process in its own session; stop() is SIGTERM then SIGKILL after a grace period."""

    def __init__(self, command: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self.log = log_path.open("ab")
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_until(
        self, ready: Callable[[], bool], what: str, timeout: float, interval: float = 0.3
    ) -> None:
        """Poll `ready()` until it holds; fail with the log if the process exits or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"process exited early:\n{self.log_text()[-3000:]}")
            if ready():
                return
            time.sleep(interval)
        raise TimeoutError(f"{what} after {timeout}s:\n{self.log_text()[-3000:]}")

    def wait_for_log(self, marker: str, timeout: float = 90) -> None:
        self.wait_until(lambda: marker in self.log_text(), f"{marker!r} not logged", timeout)

    def kill(self) -> None:
        """SIGKILL the whole process group, as the OOM killer or a power cut would."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self, grace: float = 30) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


class WebServer(Service):
    """gunicorn serving brainscan on 127.0.0.1:<port>, as behind the production proxy."""

    def __init__(self, env: dict[str, str], log_path: Path, *, workers: int = 2) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "brainscan.wsgi:application",
            f"--bind=127.0.0.1:{self.port}",
            f"--workers={workers}",
            "--threads=4",
            "--timeout=60",
            "--access-logfile=-",
        ]
        super().__init__(command, env, log_path)

    def wait_ready(self, timeout: float = 60) -> None:
        self.wait_until(self._answers, "gunicorn not ready", timeout)

    def _answers(self) -> bool:
        try:
            with clinician_client(self.base_url) as client:
                return client.get("/accounts/login/").status_code == 200
        except httpx.TransportError:
            return False


def beat_process(env: dict[str, str], log_path: Path) -> Service:
    """`celery beat`: sends the periodic recovery sweep (and the other scheduled tasks)."""
    schedule = log_path.with_suffix(".schedule")
    command = [sys.executable, "-m", "celery", "-A", "brainscan", "beat", "--loglevel=INFO"]
    service = Service([*command, f"--schedule={schedule}"], env, log_path)
    service.wait_for_log("beat: Starting", timeout=60)
    return service


class _ProxyCookiePolicy(DefaultCookiePolicy):
    """Keep Secure cookies for loopback HTTP: this client plays the TLS proxy too.

    The flag is dropped as a cookie is stored, because httpx copies the jar (and loses any
    policy) each time it sends.
    """

    def set_ok(self, cookie, request) -> bool:
        cookie.secure = False
        return super().set_ok(cookie, request)


def clinician_client(base_url: str, timeout: float = 60) -> httpx.Client:
    """An HTTP client that looks like a browser behind the production TLS proxy."""
    origin = "https://" + base_url.split("://", 1)[1]
    return httpx.Client(
        base_url=base_url,
        timeout=timeout,
        cookies=CookieJar(policy=_ProxyCookiePolicy()),
        headers={"X-Forwarded-Proto": "https", "Origin": origin, "Referer": origin + "/"},
    )


def csrf_token(client: httpx.Client, path: str) -> str:
    page = client.get(path)
    page.raise_for_status()
    match = CSRF_INPUT.search(page.text)
    if match is None:
        raise RuntimeError(f"no CSRF token on {path}")
    return match.group(1)


def forget_sign_in_attempts() -> None:
    """Empty the cache, which holds only rate-limit counters: repeated benchmark runs sign the
    same accounts in again and would meet the sign-in limit (HTTP 429). Only for a cache of
    the benchmark's own (bench/run.sh gives it a Redis database number of its own)."""
    from django.core.cache import cache

    cache.clear()


def sign_in(client: httpx.Client, email: str, password: str) -> None:
    token = csrf_token(client, "/accounts/login/")
    response = client.post(
        "/accounts/login/",
        data={"login": email, "password": password, "csrfmiddlewaretoken": token},
    )
    if response.status_code != 302:
        raise RuntimeError(f"sign-in failed for {email}: HTTP {response.status_code}")


def upload(
    client: httpx.Client, files: list[tuple[str, bytes]], *, token: str | None = None
) -> httpx.Response:
    """POST the upload form as the browser does without JavaScript (all files in one request)."""
    token = token or csrf_token(client, "/scans/upload/")
    return client.post(
        "/scans/upload/",
        data={"csrfmiddlewaretoken": token, "case_reference": ""},
        files=[("images", (name, data, "application/octet-stream")) for name, data in files],
    )


class WorkerProcess(Service):
    """One `celery worker` with one prefork child, as `docker compose --scale worker=N` runs."""

    def __init__(self, env: dict[str, str], log_path: Path, name: str) -> None:
        command = [
            *(sys.executable, "-m", "celery", "-A", "brainscan", "worker", "--loglevel=INFO"),
            *("--concurrency=1", "--pool=prefork", "--without-gossip", "--without-mingle"),
            *("--without-heartbeat", f"--hostname={name}@%h"),
        ]
        super().__init__(command, env, log_path)

    def wait_ready(self, timeout: float = 120) -> None:
        self.wait_for_log("ready.", timeout=timeout)


def worker_process(env: dict[str, str], log_path: Path, name: str) -> WorkerProcess:
    """A worker started and ready to take tasks."""
    service = WorkerProcess(env, log_path, name)
    service.wait_ready()
    return service


def upload_file(
    client: httpx.Client, token: str, batch: str, name: str, data: bytes, case_reference: str = ""
) -> httpx.Response:
    """POST one file to the upload page's per-file endpoint, as its script does."""
    return client.post(
        "/scans/upload/file.json",
        data={"csrfmiddlewaretoken": token, "batch": batch, "case_reference": case_reference},
        files=[("images", (name, data, "application/octet-stream"))],
    )
