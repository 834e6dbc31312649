"""Orthanc (Debian package `orthanc`) as the PACS, on loopback ports, for the integration test
and `make bench-pacs`: a generated JSON configuration with brainscan as a DICOM modality, its
REST API through httpx."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

BINARY = "Orthanc"
AE_TITLE = "ORTHANC"


def installed() -> bool:
    return shutil.which(BINARY) is not None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Orthanc:
    """One Orthanc process with its own storage under `folder`; brainscan is the modality
    "brainscan" (`ae_title` at 127.0.0.1:`port`)."""

    def __init__(self, folder: Path, *, brainscan_ae: str, brainscan_port: int) -> None:
        self.folder = folder
        self.http_port = free_port()
        self.dicom_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.config = folder / "orthanc.json"
        self.log = folder / "orthanc.log"
        folder.mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            json.dumps(
                {
                    "Name": "brainscan-test-pacs",
                    "StorageDirectory": str(folder / "storage"),
                    "IndexDirectory": str(folder / "index"),
                    "HttpPort": self.http_port,
                    "RemoteAccessAllowed": False,  # loopback clients only
                    "AuthenticationEnabled": False,
                    "DicomAet": AE_TITLE,
                    "DicomPort": self.dicom_port,
                    "DicomCheckCalledAet": True,
                    "DicomAlwaysAllowStore": True,
                    "DicomModalities": {"brainscan": [brainscan_ae, "127.0.0.1", brainscan_port]},
                    "DicomScuTimeout": 30,
                    "Plugins": [],
                    "SaveJobs": False,
                    "StableAge": 2,
                },
                indent=2,
            )
        )
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 (a fixed argument list)
                [shutil.which(BINARY) or BINARY, str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"Orthanc exited at start:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/system", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError("Orthanc did not answer on its HTTP port")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    # --- REST ------------------------------------------------------------------------------

    def get(self, path: str) -> Any:
        response = httpx.get(f"{self.url}{path}", timeout=30)
        response.raise_for_status()
        return response.json()

    def upload(self, data: bytes) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/instances",
            content=data,
            headers={"Content-Type": "application/dicom"},
            timeout=30,
        )
        response.raise_for_status()
        return dict(response.json())

    def push_to_brainscan(self, resource_id: str, timeout: float = 600) -> dict[str, Any]:
        """C-STORE a study or series to brainscan (Orthanc's SCU), waiting until it is sent."""
        response = httpx.post(
            f"{self.url}/modalities/brainscan/store",
            json={"Resources": [resource_id], "Synchronous": True},
            timeout=timeout,
        )
        response.raise_for_status()
        return dict(response.json())

    def series_of(self, study_id: str) -> list[dict[str, Any]]:
        return list(self.get(f"/studies/{study_id}/series"))

    def instance_file(self, instance_id: str) -> bytes:
        response = httpx.get(f"{self.url}/instances/{instance_id}/file", timeout=30)
        response.raise_for_status()
        return response.content
