from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from predictions.tasks import requeue_stuck_predictions


class Command(BaseCommand):
    help = (
        "Queue again the predictions whose task message may have been lost (PENDING for a while, "
        "or RUNNING past the stale limit). For cron where Celery beat is not running."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--pending-after", type=int, default=120, help="seconds (default 120)")

    def handle(self, *args: Any, **options: Any) -> None:
        count = requeue_stuck_predictions(pending_after=timedelta(seconds=options["pending_after"]))
        self.stdout.write(f"{count} prediction(s) queued again.")
