"""The Redis broker transport, with a worker that keeps consuming after an ack Redis never got.

kombu's Redis QoS acknowledges a message in two steps: it removes the message from Redis's
"unacked" index, then releases the worker's prefetch slot. If Redis does not answer the first
step (hung: the socket read times out; or the connection drops), the second never runs, and
Celery only logs "Couldn't ack" (kombu's `Message.ack_log_error` swallows connection errors).
The slot stays taken for the life of the connection; a worker with `--concurrency=1` and a
prefetch multiplier of 1 has one slot, so it never takes another task, and nothing restarts
its connection: it is alive, connected, and idle for good.

This QoS releases the slot whatever Redis answered, and re-raises, so the failure is still
logged. The message may stay in Redis's unacked index; Redis then delivers it again after
the visibility timeout, and the worker's claim (one conditional UPDATE) skips a finished row.
The same applies to a reject (a worker lost mid-task), which writes to Redis too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from kombu.transport import redis, virtual


class QoS(redis.QoS):
    def ack(self, delivery_tag: str) -> None:
        with self._release_on_error(delivery_tag):
            super().ack(delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        with self._release_on_error(delivery_tag):
            super().reject(delivery_tag, requeue=requeue)

    @contextmanager
    def _release_on_error(self, delivery_tag: str) -> Iterator[None]:
        try:
            yield
        except Exception:
            virtual.QoS.ack(self, delivery_tag)  # only the local bookkeeping: frees the slot
            raise


class Channel(redis.Channel):
    QoS = QoS


class Transport(redis.Transport):
    Channel = Channel
