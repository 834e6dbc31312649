"""Reading configuration from the environment, strictly.

A typo in a boolean or a secret that cannot be read must stop the process at start-up,
not silently fall back to a development default in production.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


def env_bool(name: str, default: bool = False) -> bool:
    value = os.getenv(name)
    if value is None or value == "":
        return default
    if value not in ("True", "False"):
        raise ImproperlyConfigured(f"{name} must be True or False, not {value!r}")
    return value == "True"


def env_int(name: str, default: int) -> int:
    value = os.getenv(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.getenv(name)
    if value is None or value.strip() == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_secret(name: str, default: str = "") -> str:
    """Read NAME, or the file named by NAME_FILE (a Docker secret), stripped of the newline."""
    path = os.getenv(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE points to a file that cannot be read: {exc.strerror}"
            ) from None
    return os.getenv(name, default)


def require(problems: list[str]) -> None:
    """Refuse to start with a list of every missing piece, so one restart fixes them all."""
    if problems:
        raise ImproperlyConfigured(
            "The production profile (BRAINSCAN_PRODUCTION=True) is half-configured: "
            + "; ".join(problems)
        )
