"""Nobody can change or remove an audit event: not through the admin, not through the ORM."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.log import record
from audit.models import AppendOnlyError, AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(clinician) -> AuditEvent:
    return record(AuditEvent.Action.RESULT_VIEWED, actor=clinician, object_type="scan", object_id=7)


def test_saving_an_existing_event_is_refused(event):
    event.action = AuditEvent.Action.LOGIN

    with pytest.raises(AppendOnlyError):
        event.save()

    assert AuditEvent.objects.get(pk=event.pk).action == AuditEvent.Action.RESULT_VIEWED


def test_deleting_an_event_is_refused(event):
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()

    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_bulk_updates_are_refused(event):
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(actor_email="someone@else.org")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.bulk_update([event], ["actor_email"])

    assert AuditEvent.objects.get(pk=event.pk).actor_email == "alice@example.org"


def test_deleting_the_actor_keeps_the_event_and_who_it_was(event, clinician):
    clinician.delete()

    event.refresh_from_db()
    assert (event.actor, event.actor_email) == (None, "alice@example.org")


def test_admin_reads_the_log(admin_client, event):
    changelist = admin_client.get(reverse("admin:audit_auditevent_changelist"))
    detail = admin_client.get(reverse("admin:audit_auditevent_change", args=[event.pk]))

    assert changelist.status_code == 200
    assert "alice@example.org" in changelist.content.decode()
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()  # read-only: no save button


def test_admin_cannot_add_change_or_delete(admin_client, event):
    change_url = reverse("admin:audit_auditevent_change", args=[event.pk])

    add = admin_client.get(reverse("admin:audit_auditevent_add"))
    post = admin_client.post(change_url, {"action": "login", "actor_email": "x@example.org"})
    delete = admin_client.post(
        reverse("admin:audit_auditevent_delete", args=[event.pk]), {"post": "yes"}
    )
    bulk = admin_client.post(
        reverse("admin:audit_auditevent_changelist"),
        {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
    )

    assert (add.status_code, post.status_code, delete.status_code) == (403, 403, 403)
    assert bulk.status_code in (200, 302)  # the action does not exist: nothing happens
    event.refresh_from_db()
    assert event.actor_email == "alice@example.org"
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_reviewers_and_clinicians_cannot_read_the_log(reviewer_client, clinician_client, event):
    url = reverse("admin:audit_auditevent_changelist")

    assert reviewer_client.get(url).status_code == 403
    assert clinician_client.get(url, follow=True).status_code == 403
