"""The audit log's hash chain: each event carries the hash of the one before it.

`AuditEvent.objects.update()`, `_raw_delete()` or SQL typed at a database console can change
or remove rows behind the model's back. With the chain, such a change shows: an event's hash
covers its own fields and its predecessor's hash, so an edited row no longer matches its hash
and a removed row leaves its successor pointing at a hash that is not there.
`manage.py verify_audit` walks the chain and reports the first broken link.

What is hashed: the time, the actor's e-mail (the actor id is left out: deleting an account
sets it to NULL), the action, the object, the address and the detail, as canonical JSON.
Anyone able to rewrite the whole table and the head could also recompute every hash, so the
command prints the head hash for an operator to note elsewhere now and then; on MySQL/MariaDB
triggers also refuse UPDATE and DELETE on the table (migration 0004).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from audit.models import AuditEvent

GENESIS = "0" * 64


def payload(event: Any) -> str:
    """The event's fields as canonical JSON (the same text before and after a database trip)."""
    fields = {
        "at": event.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_email": event.actor_email,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "ip": event.ip or "",
        "detail": event.detail,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(event: Any) -> str:
    return hashlib.sha256((event.prev_hash + payload(event)).encode()).hexdigest()


@dataclass(frozen=True)
class BrokenLink:
    event_id: int
    reason: str


def first_broken_link(events: Iterable[AuditEvent]) -> BrokenLink | None:
    """Walk `events` in id order; None when every link holds."""
    previous = GENESIS
    for event in events:
        if event.prev_hash != previous:
            return BrokenLink(event.pk, "does not follow the event before it (one was removed)")
        if event.hash != event_hash(event):
            return BrokenLink(event.pk, "was changed after it was written")
        previous = event.hash
    return None
