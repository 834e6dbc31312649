"""An append-only record of who did what, when and from where.

Rows are only ever inserted: `save()` on an existing row and `delete()` raise, and so do
`update()`/`delete()` on querysets. The detail never holds patient data (no file names,
case references or DICOM tags), only ids and technical facts.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from audit.chain import GENESIS, event_hash


class AppendOnlyError(RuntimeError):
    """Raised on any attempt to change or remove an audit event."""


def _refuse(*_: Any, **__: Any) -> NoReturn:
    raise AppendOnlyError("The audit log is append-only: events cannot be changed or deleted.")


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    update = _refuse
    delete = _refuse
    bulk_update = _refuse


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        LOGIN = "login", "Signed in"
        LOGIN_FAILED = "login_failed", "Sign-in failed"
        LOGOUT = "logout", "Signed out"
        MFA_ENABLED = "mfa_enabled", "Two-factor method added"
        MFA_DISABLED = "mfa_disabled", "Two-factor method removed"
        MFA_FAILED = "mfa_failed", "Two-factor code refused"
        ACCOUNT_APPROVED = "account_approved", "Account approved as clinician"
        SCAN_UPLOADED = "scan_uploaded", "Scan uploaded"
        RESULT_VIEWED = "result_viewed", "Result viewed"
        LIST_VIEWED = "list_viewed", "Scan list or search viewed (admin)"
        ACCESS_REFUSED = "access_refused", "Access refused (not yours, or not allowed)"
        IMAGE_DOWNLOADED = "image_downloaded", "Image or heatmap downloaded"
        CSV_EXPORTED = "csv_exported", "CSV exported"
        REVIEW_RECORDED = "review_recorded", "Review verdict recorded"
        SCAN_DELETED = "scan_deleted", "Scan deleted"
        TOKEN_CREATED = "token_created", "API token created"
        TOKEN_REVOKED = "token_revoked", "API token revoked"
        DICOM_REFUSED = "dicom_refused", "DICOM association refused"
        DICOM_RECEIVED = "dicom_received", "Study received over DICOM"
        DICOM_SENT = "dicom_sent", "Results sent to PACS"
        DICOM_SEND_FAILED = "dicom_send_failed", "Sending results to PACS failed"

    at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    # The e-mail is copied so the event still says who it was if the account is deleted.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    actor_email = models.CharField(max_length=254, blank=True, editable=False)
    action = models.CharField(max_length=32, choices=Action.choices, db_index=True, editable=False)
    object_type = models.CharField(max_length=32, blank=True, editable=False)
    object_id = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    ip = models.GenericIPAddressField(null=True, blank=True, editable=False)
    detail = models.JSONField(default=dict, blank=True, editable=False)
    # The hash chain (audit/chain.py): the previous event's hash, and this one's.
    prev_hash = models.CharField(max_length=64, blank=True, editable=False)
    hash = models.CharField(max_length=64, blank=True, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ("-at", "-id")
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.actor_email or 'nobody'} at {self.at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Insert only, linked to the chain's head; the head row's lock makes concurrent
        writers take turns, so two events never claim the same predecessor."""
        if not self._state.adding:
            _refuse()
        with transaction.atomic():
            head = ChainHead.locked()
            self.prev_hash = head.hash
            self.hash = event_hash(self)
            super().save(*args, **kwargs)
            head.hash = self.hash
            head.save(update_fields=["hash"])

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse()


class ChainHead(models.Model):
    """One row: the hash of the newest audit event, locked by every writer."""

    hash = models.CharField(max_length=64, default=GENESIS)

    def __str__(self) -> str:
        return f"audit chain head {self.hash}"

    @classmethod
    def locked(cls) -> ChainHead:
        cls.objects.get_or_create(pk=1)
        return cls.objects.select_for_update().get(pk=1)
