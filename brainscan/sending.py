"""Sending a Celery task where the database row, not the message, is the source of truth.

Every queue in the apps works the same way: a row is written first, its task is sent after the
commit, and a sweep queues again whatever a lost message (or an unreachable broker) left
behind. So a failed send is not an error for the caller: it is logged, and the row waits.
"""

from __future__ import annotations

import logging
from typing import Any


def send_or_leave(task: Any, row_id: int, *, logger: logging.Logger, what: str, then: str) -> bool:
    """`task.delay(row_id)`; if the broker is down, log it (`what` names the row, `then` says
    which sweep takes it over) and return False."""
    try:
        task.delay(row_id)
    except Exception as exc:  # kombu raises several types for an unreachable broker
        logger.warning(
            "%s %s: could not reach the task queue (%s); %s",
            what,
            row_id,
            type(exc).__name__,
            then,
        )
        return False
    return True
