"""Roles are Django groups carrying permissions of the predictions app.

Permissions are looked up by app label and codename (strings), so accounts does not import
predictions. The groups are (re)created after every migrate.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.signals import clinician_approved
from accounts.verification import has_verified_email

CLINICIANS = "clinicians"
REVIEWERS = "reviewers"
ROLE_PERMISSIONS = {
    CLINICIANS: [("predictions", "analyze_scan")],
    REVIEWERS: [
        ("predictions", "review_scan"),
        ("predictions", "view_scan"),
        ("predictions", "view_prediction"),
        ("predictions", "change_prediction"),
    ],
}


def ensure_roles(**_: Any) -> None:
    """Create the role groups and give them every permission that exists so far."""
    for name, perms in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=name)
        for app_label, codename in perms:
            permission = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if permission is not None:
                group.permissions.add(permission)


class NotVerified(ValueError):
    """Approval needs a verified e-mail address."""

    MESSAGE = "This account's e-mail address is not verified yet, so it cannot be approved."


@transaction.atomic
def approve_clinician(user: User) -> bool:
    """Let `user` analyse scans. Returns False if they already could.

    Raises NotVerified for an unverified address: an approval says this person, reachable at
    this address, may upload, and sign-up alone proves nothing about the address.
    """
    if not has_verified_email(user):
        raise NotVerified(NotVerified.MESSAGE)
    ensure_roles()
    group = Group.objects.get(name=CLINICIANS)
    if user.groups.filter(pk=group.pk).exists():
        return False
    user.groups.add(group)
    if user.approved_at is None:
        user.approved_at = timezone.now()
        user.save(update_fields=["approved_at"])
    clinician_approved.send(sender=User, user=user)
    return True


@transaction.atomic
def make_reviewer(user: User) -> None:
    ensure_roles()
    user.groups.add(Group.objects.get(name=REVIEWERS))
    if not user.is_staff:
        user.is_staff = True  # reviewers work in the admin
        user.save(update_fields=["is_staff"])
