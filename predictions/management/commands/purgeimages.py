from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from predictions.retention import purge_expired_images, purge_orphan_files


class Command(BaseCommand):
    help = (
        "Delete the images, overlays and heatmaps of scans older than SCAN_RETENTION_DAYS, "
        "keeping their result rows (marked 'image purged'). For cron where Celery beat is not "
        "running; safe to run at any time."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=int, default=None, help="override SCAN_RETENTION_DAYS for this run"
        )
        parser.add_argument(
            "--orphans",
            action="store_true",
            help="also delete files in private storage that no scan refers to (older than 1 h)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = settings.SCAN_RETENTION_DAYS if options["days"] is None else options["days"]
        if options["days"] is not None and days < 1:
            raise CommandError("--days must be 1 or more.")
        if days > 0:
            count = purge_expired_images(days=days)
            self.stdout.write(f"Purged the images of {count} scan(s) older than {days} days.")
        else:
            self.stdout.write("Retention is off (SCAN_RETENTION_DAYS is 0): no image purged.")
        if options["orphans"]:
            self.stdout.write(f"Removed {purge_orphan_files()} orphan file(s).")
