"""The image creates every path docker-compose.yml mounts a volume at, owned by the app's user.

Docker does not run here, so this reads the two files (issue 15): a named volume mounted at a
path missing from the image is created owned by root, and the brainscan user (uid 10001)
then cannot write uploads to /data/private.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path, PurePosixPath

import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_USER = "brainscan"


def dockerfile_commands() -> list[list[str]]:
    """Each shell command of each RUN instruction, split into words."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    runs = [line[4:] for line in text.splitlines() if line.startswith("RUN ")]
    return [shlex.split(part) for run in runs for part in re.split(r"&&|;", run) if part.strip()]


def created_and_owned() -> tuple[set[PurePosixPath], set[PurePosixPath]]:
    created, owned = set(), set()
    for words in dockerfile_commands():
        paths = {PurePosixPath(w) for w in words[1:] if w.startswith("/")}
        if words[:1] == ["mkdir"]:
            created |= paths
        if words[:1] == ["chown"] and any(w.startswith(f"{APP_USER}:") for w in words):
            owned |= paths
    return created, owned


def app_volume_targets() -> set[PurePosixPath]:
    """Container paths of the volumes mounted into services built from our Dockerfile."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    targets = set()
    for service in compose["services"].values():
        if "build" not in service:
            continue
        for volume in service.get("volumes", []):
            target = volume["target"] if isinstance(volume, dict) else volume.split(":")[1]
            targets.add(PurePosixPath(target))
    return targets


def test_every_volume_path_is_created_and_owned_by_the_app_user_in_the_image():
    created, owned = created_and_owned()
    targets = app_volume_targets()

    assert PurePosixPath("/data/private") in targets  # the parse found the private files
    for target in targets:
        assert target in created, f"{target} is mounted but not created in the Dockerfile"
        assert any(target == p or p in target.parents for p in owned), f"{target} not owned"


def test_the_image_runs_as_the_app_user():
    text = (ROOT / "Dockerfile").read_text()

    assert re.search(rf"^USER {APP_USER}$", text, re.M)
    assert f"--uid 10001 {APP_USER}" in text
