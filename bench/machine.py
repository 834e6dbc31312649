"""What a benchmark ran on, so that every number carries its date and machine."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


def describe() -> dict[str, object]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "commit": _git("rev-parse", "--short", "HEAD"),
    }


def busy_training() -> bool:
    """A model training run would share the cores and skew every number."""
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if ("ml.train" in cmdline or "ml.cli.train" in cmdline) and "bench" not in cmdline:
            return True
    return False


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*args: str) -> str:
    git = shutil.which("git")
    if git is None:
        return "unknown"
    try:
        result = subprocess.run(
            [git, *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip()


def machine_line(machine: dict[str, object]) -> str:
    return (
        f"{machine['date']} · {machine['nproc']} cores ({machine['cpu']}) · "
        f"{machine['ram_gib']} GiB RAM · load average at start {machine['load_average_at_start']}"
        f" · commit {machine['commit']}"
    )
