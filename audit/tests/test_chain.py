"""The audit log's hash chain shows edits and removals made behind the model's back
(issue 15, item 4); `manage.py verify_audit` names the first broken link."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import models

from audit.chain import GENESIS
from audit.log import record
from audit.models import AuditEvent, ChainHead

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action


@pytest.fixture
def chain(clinician) -> list[AuditEvent]:
    return [
        record(Action.RESULT_VIEWED, actor=clinician, object_type="scan", object_id=n)
        for n in range(4)
    ]


def verify() -> str:
    out = StringIO()
    call_command("verify_audit", stdout=out)
    return out.getvalue()


def test_each_event_carries_the_hash_of_the_one_before(chain):
    stored = list(AuditEvent.objects.order_by("id"))

    assert stored[0].prev_hash == GENESIS
    assert [e.prev_hash for e in stored[1:]] == [e.hash for e in stored[:-1]]
    assert ChainHead.objects.get(pk=1).hash == stored[-1].hash
    assert f"{len(stored)} audit events, chain intact" in verify()


def test_an_event_changed_with_a_raw_update_is_reported(chain):
    # QuerySet.update itself, past AuditEventQuerySet's refusal, as other code could call it.
    models.QuerySet.update(AuditEvent.objects.filter(pk=chain[1].pk), object_id="999")

    with pytest.raises(CommandError, match=f"Audit event {chain[1].pk} was changed"):
        verify()


def test_an_event_removed_with_raw_delete_is_reported_at_its_successor(chain):
    AuditEvent.objects.filter(pk=chain[1].pk)._raw_delete(AuditEvent.objects.db)

    with pytest.raises(CommandError, match=f"Audit event {chain[2].pk} does not follow"):
        verify()


def test_removing_the_newest_events_is_reported_by_the_head(chain):
    AuditEvent.objects.filter(pk=chain[-1].pk)._raw_delete(AuditEvent.objects.db)

    with pytest.raises(CommandError, match="newest events were removed"):
        verify()


def test_the_chain_survives_a_database_round_trip_with_any_detail(clinician):
    record(Action.LOGIN, actor=clinician, detail={"ü": "ß", "n": 1.5, "list": [1, "a"]})
    record(Action.LOGIN, detail={})

    assert "chain intact" in verify()
