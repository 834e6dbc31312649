"""A failed ack or reject still frees the worker's prefetch slot (brainscan/broker.py)."""

from __future__ import annotations

from unittest import mock

import pytest
from kombu.transport import virtual
from redis.exceptions import TimeoutError as RedisTimeout

from brainscan.broker import QoS


def qos_holding_one_message() -> QoS:
    qos = QoS(mock.MagicMock(), prefetch_count=1)
    virtual.QoS.append(qos, mock.MagicMock(), "tag-1")  # delivered, without writing to Redis
    assert not qos.can_consume()
    return qos


@pytest.mark.parametrize("settle", ["ack", "reject"])
def test_a_settle_redis_did_not_answer_frees_the_slot_and_is_still_reported(settle):
    qos = qos_holding_one_message()
    with (
        mock.patch.object(QoS, "_remove_from_indices", side_effect=RedisTimeout("hung")),
        pytest.raises(RedisTimeout),
    ):
        getattr(qos, settle)("tag-1")
    assert qos.can_consume()  # kombu's own QoS would hold the slot for good


def test_an_ack_redis_answered_frees_the_slot_once():
    qos = qos_holding_one_message()
    with mock.patch.object(QoS, "_remove_from_indices") as remove:
        qos.ack("tag-1")
    remove.return_value.execute.assert_called_once_with()
    assert qos.can_consume()


def test_the_transport_loads_from_the_setting():
    from kombu import Connection

    from brainscan.broker import Transport

    connection = Connection("redis://127.0.0.1:1/0", transport="brainscan.broker:Transport")
    assert connection.transport_cls == "brainscan.broker:Transport"
    assert isinstance(connection.transport, Transport)
