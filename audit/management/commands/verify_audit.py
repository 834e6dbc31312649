from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.chain import first_broken_link
from audit.models import AuditEvent, ChainHead


class Command(BaseCommand):
    help = (
        "Check the audit log's hash chain; report the first event that was changed or whose "
        "predecessor was removed. Prints the head hash: note it elsewhere to detect a "
        "rewrite of the whole table later."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        events = AuditEvent.objects.order_by("id").iterator(chunk_size=2000)
        broken = first_broken_link(events)
        if broken is not None:
            raise CommandError(f"Audit event {broken.event_id} {broken.reason}.")
        head = ChainHead.objects.filter(pk=1).first()
        last = AuditEvent.objects.order_by("-id").first()
        if head is not None and last is not None and head.hash != last.hash:
            raise CommandError(
                f"The newest events were removed: the chain's head is not event {last.pk}."
            )
        count = AuditEvent.objects.count()
        head_hash = head.hash if head else "none"
        self.stdout.write(
            self.style.SUCCESS(f"{count} audit events, chain intact; head {head_hash}.")
        )
