"""On MySQL/MariaDB the database refuses UPDATE and DELETE on the audit table (issue 15,
item 4). Runs in .ci/run's services pass (DB=mysql); skipped on SQLite, which has no triggers."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, models, transaction

from accounts.tests.factories import UserFactory
from audit.log import record
from audit.models import AuditEvent

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(connection.vendor != "mysql", reason="MySQL/MariaDB triggers only"),
    pytest.mark.django_db,
]


@pytest.fixture
def no_maintenance():
    """This connection behaves as the application's do: no maintenance flag (conftest.py)."""
    with connection.cursor() as cursor:
        cursor.execute("SET @brainscan_audit_maintenance = NULL")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET @brainscan_audit_maintenance = 1")


@pytest.fixture
def event(clinician) -> AuditEvent:
    return record(AuditEvent.Action.LOGIN, actor=clinician)


def test_the_database_refuses_an_update(event, no_maintenance):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        models.QuerySet.update(AuditEvent.objects.filter(pk=event.pk), object_id="999")

    assert AuditEvent.objects.get(pk=event.pk).object_id == event.object_id


def test_the_database_refuses_a_raw_delete(event, no_maintenance):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk)._raw_delete(AuditEvent.objects.db)

    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_deleting_an_account_still_works_and_keeps_its_events(no_maintenance):
    user = UserFactory(email="leaving@example.org")
    event = record(AuditEvent.Action.LOGIN, actor=user)

    user.delete()  # on_delete=SET_NULL: the one update the trigger allows

    event = AuditEvent.objects.get(pk=event.pk)
    assert (event.actor_id, event.actor_email) == (None, "leaving@example.org")
