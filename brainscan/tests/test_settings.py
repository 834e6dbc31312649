"""The production profile must refuse to start half-configured, naming what is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = "k" * 60
# Whatever profile the suite itself runs under (CI runs it in production too), start clean.
PROFILE_VARIABLES = {
    "BRAINSCAN_PRODUCTION",
    "DB",
    "REDIS_URL",
    "SECRET_KEY",
    "SECRET_KEY_FILE",
    "ALLOWED_HOSTS",
    "DEBUG",
    "DB_PASSWORD",
    "DB_PASSWORD_FILE",
    "PACS_IDENTIFIERS_KEY",
    "PACS_IDENTIFIERS_KEY_FILE",
}
FERNET_KEY = "x2mVmFZ3cB7oVfM0b4nY0m0u3wq4Zr7aX1tKQ2f9J1E="  # a valid Fernet key (32 bytes)


def clean_environment(**env: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in PROFILE_VARIABLES}
    clean.update(env, DJANGO_SETTINGS_MODULE="brainscan.settings")
    return clean


def load_settings(**env: str) -> subprocess.CompletedProcess[str]:
    clean = clean_environment(**env)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('loaded')"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_without_any_settings_names_everything_missing():
    result = load_settings(BRAINSCAN_PRODUCTION="True")

    assert result.returncode != 0
    for name in (
        "SECRET_KEY",
        "DB must be mysql",
        "REDIS_URL",
        "ALLOWED_HOSTS",
        "PACS_IDENTIFIERS_KEY",
    ):
        assert name in result.stderr


def test_production_refuses_the_development_secret_key():
    result = load_settings(
        BRAINSCAN_PRODUCTION="True",
        DB="mysql",
        DB_PASSWORD="pw",
        REDIS_URL="redis://127.0.0.1:6379/0",
        ALLOWED_HOSTS="scans.example.org",
    )

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
    assert "REDIS_URL" not in result.stderr


def test_production_starts_when_fully_configured():
    result = load_settings(
        BRAINSCAN_PRODUCTION="True",
        SECRET_KEY=GOOD_KEY,
        DB="mysql",
        DB_PASSWORD="pw",
        REDIS_URL="redis://127.0.0.1:6379/0",
        ALLOWED_HOSTS="scans.example.org",
        PACS_IDENTIFIERS_KEY=FERNET_KEY,
    )

    assert result.returncode == 0, result.stderr
    assert "loaded" in result.stdout


def test_production_needs_its_own_identifiers_key_not_the_derived_one():
    result = load_settings(
        BRAINSCAN_PRODUCTION="True",
        SECRET_KEY=GOOD_KEY,
        DB="mysql",
        DB_PASSWORD="pw",
        REDIS_URL="redis://127.0.0.1:6379/0",
        ALLOWED_HOSTS="scans.example.org",
    )

    assert result.returncode != 0
    assert "PACS_IDENTIFIERS_KEY" in result.stderr
    assert "SECRET_KEY" not in result.stderr.replace("PACS_IDENTIFIERS_KEY", "")


def test_booleans_must_be_spelled_exactly():
    result = load_settings(DEBUG="yes")

    assert result.returncode != 0
    assert "DEBUG must be True or False" in result.stderr


def test_secret_can_come_from_a_file(tmp_path):
    secret = tmp_path / "secret_key"
    secret.write_text(GOOD_KEY + "\n")
    code = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY == 'k' * 60)"
    env = clean_environment(SECRET_KEY_FILE=str(secret))

    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.stdout.strip() == "True", result.stderr


EMBEDDED_REQUESTS = """
import django; django.setup()
from django.test import Client
remote = Client(REMOTE_ADDR="203.0.113.5")
missing = remote.get("/no-such-page/")
print("debug", django.conf.settings.DEBUG)
print("404", missing.status_code, b"URLconf" in missing.content or b"urlpatterns" in missing.content)
print("post-no-slash", remote.post("/accounts/login", {"login": "x"}).status_code)
print("static", remote.get("/static/css/brainscan.css").status_code)
"""


def test_the_embedded_default_shows_no_debug_pages_and_still_serves_static_files(tmp_path):
    """Issue 15: DEBUG was on by default, so a wrong URL listed every URL pattern and a POST
    to an allauth URL without its trailing slash was a 500."""
    env = clean_environment(VAR_DIR=str(tmp_path))

    result = subprocess.run(
        [sys.executable, "-c", EMBEDDED_REQUESTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert lines == {
        "debug": "False",
        "404": "404 False",
        "post-no-slash": "301",
        "static": "200",
    }, result.stderr[-2000:]
