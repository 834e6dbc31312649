"""`manage.py dicomlistener`: listens with the settings' AE title, answers an allow-listed
node, and stops on SIGTERM."""

from __future__ import annotations

import io
import os
import re
import signal
import threading
import time

import pytest
from django.core.management import call_command

from pacs.tests.conftest import associate

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_command_listens_with_the_configured_title_and_stops_on_sigterm(node, settings):
    settings.DICOM_AE_TITLE = "BRAINSCAN_T"
    settings.DICOM_PORT = 0  # a free port; the command prints the one it got
    out = io.StringIO()
    echoes: list[int] = []

    def sender() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            found = re.search(r"BRAINSCAN_T on 127\.0\.0\.1:(\d+)", out.getvalue())
            if found:
                assoc = associate(int(found.group(1)), called="BRAINSCAN_T")
                if assoc.is_established:
                    echoes.append(int(assoc.send_c_echo().Status))
                    assoc.release()
                break
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=sender)
    thread.start()
    before = signal.getsignal(signal.SIGTERM)
    call_command("dicomlistener", "--quiet-seconds", "2", stdout=out)
    thread.join()

    assert echoes == [0x0000]
    assert "complete after 2 s quiet" in out.getvalue()
    assert out.getvalue().rstrip().endswith("DICOM listener stopped.")
    assert signal.getsignal(signal.SIGTERM) == before
