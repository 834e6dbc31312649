"""Celery tasks of the send-back half (pacs.delivery does the work)."""

from __future__ import annotations

import logging

from celery import Task, shared_task

from pacs import delivery
from pacs.models import Delivery

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def deliver_results(self: Task, delivery_id: int) -> str:
    """One attempt; when the PACS did not take the results, the task is retried after the
    delivery's backoff (the row counts the attempts and stops them). In-process (no broker,
    the embedded default) it is not re-run at once: `send_due` sends it when it is due."""
    outcome = delivery.attempt(delivery_id)
    retrying = outcome.state == Delivery.State.RETRYING and outcome.attempted
    if retrying and outcome.retry_in and not self.request.is_eager:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.state


@shared_task
def send_due_deliveries() -> int:
    return delivery.send_due()


@shared_task
def purge_return_identifiers() -> int:
    return delivery.purge_identifiers()
