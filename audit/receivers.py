"""Signal receivers that write the audit log.

Only audit imports the apps it watches; accounts, predictions and api send signals and know
nothing about the log.
"""

from __future__ import annotations

from typing import Any

from allauth.mfa import signals as mfa_signals
from django.contrib.auth import signals as auth_signals
from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest

from accounts.models import User
from accounts.signals import clinician_approved
from api.models import ApiToken
from api.signals import token_created, token_revoked
from audit.log import record
from audit.models import AuditEvent
from pacs.models import Delivery, ReceivedStudy
from pacs.signals import association_refused, delivery_attempted, study_received
from predictions.models import Prediction, Scan
from predictions.signals import review_recorded
from studies.models import Study

Action = AuditEvent.Action


def connect() -> None:
    receivers = [
        (auth_signals.user_logged_in, logged_in),
        (auth_signals.user_logged_out, logged_out),
        (auth_signals.user_login_failed, login_failed),
        (mfa_signals.authenticator_added, mfa_added),
        (mfa_signals.authenticator_removed, mfa_removed),
        (mfa_signals.authentication_failed, mfa_failed),
        (clinician_approved, account_approved),
        (review_recorded, review_saved),
        (token_created, token_made),
        (token_revoked, token_ended),
        (association_refused, dicom_refused),
        (study_received, dicom_received),
        (delivery_attempted, dicom_delivery),
    ]
    for signal, receiver in receivers:
        signal.connect(receiver, dispatch_uid=f"audit.{receiver.__name__}")
    post_save.connect(scan_saved, sender=Scan, dispatch_uid="audit.scan_saved")
    post_delete.connect(scan_deleted, sender=Scan, dispatch_uid="audit.scan_deleted")
    post_save.connect(study_saved, sender=Study, dispatch_uid="audit.study_saved")
    post_delete.connect(study_deleted, sender=Study, dispatch_uid="audit.study_deleted")


def logged_in(sender: Any, request: HttpRequest | None, user: User, **_: Any) -> None:
    record(Action.LOGIN, actor=user, target=user, request=request)


def logged_out(sender: Any, request: HttpRequest | None, user: User | None, **_: Any) -> None:
    if user is not None:
        record(Action.LOGOUT, actor=user, target=user, request=request)


def login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **_: Any
) -> None:
    """The attempted address is not stored (people type passwords into it); the account is."""
    login = credentials.get("email") or credentials.get("username") or ""
    user = User.objects.filter(email__iexact=login).first() if login else None
    record(
        Action.LOGIN_FAILED,
        actor=user,
        target=user,
        detail={"known_account": user is not None},
        request=request,
    )


def mfa_added(sender: Any, request: HttpRequest, user: User, authenticator: Any, **_: Any) -> None:
    detail = {"type": authenticator.type}
    record(Action.MFA_ENABLED, actor=user, target=user, detail=detail, request=request)


def mfa_removed(
    sender: Any, request: HttpRequest, user: User, authenticator: Any, **_: Any
) -> None:
    detail = {"type": authenticator.type}
    record(Action.MFA_DISABLED, actor=user, target=user, detail=detail, request=request)


def mfa_failed(sender: Any, request: HttpRequest, user: User, **_: Any) -> None:
    record(Action.MFA_FAILED, actor=user, target=user, request=request)


def account_approved(sender: Any, user: User, **_: Any) -> None:
    """The actor is whoever is signed in (the admin); none for a management command."""
    record(Action.ACCOUNT_APPROVED, target=user)


def scan_saved(sender: Any, instance: Scan, created: bool, raw: bool = False, **_: Any) -> None:
    if created and not raw:
        detail = {"format": instance.source_format, "batch": str(instance.batch)}
        record(Action.SCAN_UPLOADED, actor=instance.owner, target=instance, detail=detail)


def scan_deleted(sender: Any, instance: Scan, **_: Any) -> None:
    record(Action.SCAN_DELETED, target=instance, detail={"owner_id": instance.owner_id})


def study_saved(sender: Any, instance: Study, created: bool, raw: bool = False, **_: Any) -> None:
    """A study upload is an upload (of whole series): recorded as one, by study id."""
    if created and not raw:
        detail = {"kind": "study", "format": instance.source_format}
        record(Action.SCAN_UPLOADED, actor=instance.owner, target=instance, detail=detail)


def study_deleted(sender: Any, instance: Study, **_: Any) -> None:
    detail = {"kind": "study", "owner_id": instance.owner_id}
    record(Action.SCAN_DELETED, target=instance, detail=detail)


def review_saved(sender: Any, prediction: Prediction, reviewer: User, **_: Any) -> None:
    detail = {"verdict": prediction.review_verdict, "scan_id": prediction.scan_id}
    record(Action.REVIEW_RECORDED, actor=reviewer, target=prediction, detail=detail)


def token_made(sender: Any, token: ApiToken, **_: Any) -> None:
    detail = {"prefix": token.prefix, "owner_id": token.user_id}
    record(Action.TOKEN_CREATED, target=token, detail=detail)


def token_ended(sender: Any, token: ApiToken, **_: Any) -> None:
    detail = {"prefix": token.prefix, "owner_id": token.user_id}
    record(Action.TOKEN_REVOKED, target=token, detail=detail)


def dicom_refused(
    sender: Any, calling_ae: str, called_ae: str, address: str, reason: str, **_: Any
) -> None:
    """Network configuration only: the titles (printable, cut to 16) and the peer's address."""
    detail = {"calling_ae": calling_ae, "called_ae": called_ae, "reason": reason}
    record(Action.DICOM_REFUSED, object_type="dicomnode", detail=detail, ip=address)


def dicom_received(sender: Any, receipt: ReceivedStudy, **_: Any) -> None:
    """Counts and our own ids: which node, which study, how many instances."""
    detail = {
        "node_id": receipt.node_id,
        "received_id": receipt.pk,
        "instances": receipt.instances,
        "duplicates": receipt.duplicates,
        "associations": receipt.associations,
    }
    owner = receipt.study.owner if receipt.study is not None else None
    record(Action.DICOM_RECEIVED, actor=owner, target=receipt.study, detail=detail)


def dicom_delivery(sender: Any, delivery: Delivery, succeeded: bool, reason: str, **_: Any) -> None:
    """One attempt to send a study's results to the PACS: our ids, the attempt's number, the
    state after it and, when it failed, why (our own words; no identifier)."""
    receipt = delivery.receipt
    detail = {
        "delivery_id": delivery.pk,
        "received_id": receipt.pk,
        "node_id": receipt.node_id,
        "attempt": delivery.attempts,
        "state": delivery.state,
        "objects": delivery.objects_sent,
        "reason": reason,
    }
    action = Action.DICOM_SENT if succeeded else Action.DICOM_SEND_FAILED
    record(action, target=receipt.study, object_type="study", detail=detail)
