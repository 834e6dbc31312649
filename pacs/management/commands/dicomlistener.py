"""`manage.py dicomlistener`: the DICOM Storage SCP that PACS and scanners push studies to.

Runs until stopped (Ctrl-C or SIGTERM); a restart takes up the studies still being received.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from pacs.listener import Listener, Receiver, decodable_transfer_syntaxes
from pacs.models import validate_ae_title


class Command(BaseCommand):
    help = "Receive studies over DICOM from the allow-listed nodes (a Storage SCP)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--ae-title", default=settings.DICOM_AE_TITLE)
        parser.add_argument("--bind", default=settings.DICOM_BIND_ADDRESS)
        parser.add_argument("--port", type=int, default=settings.DICOM_PORT)
        parser.add_argument(
            "--quiet-seconds",
            type=float,
            default=settings.DICOM_QUIET_SECONDS,
            help="A study is complete when none of its instances arrived for this long.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        validate_ae_title(options["ae_title"])
        receiver = Receiver(quiet_seconds=options["quiet_seconds"])
        listener = Listener(
            ae_title=options["ae_title"],
            bind=options["bind"],
            port=options["port"],
            receiver=receiver,
        )
        stopped = threading.Event()
        previous = {
            signum: signal.signal(signum, lambda *_: stopped.set())
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        listener.start()
        syntaxes = len(decodable_transfer_syntaxes())
        self.stdout.write(
            f"DICOM listener {options['ae_title']} on {options['bind']}:{listener.port} "
            f"({syntaxes} transfer syntaxes; complete after {options['quiet_seconds']:g} s quiet)"
        )
        try:
            stopped.wait()
        finally:
            listener.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        self.stdout.write("DICOM listener stopped.")
