"""Per-user API tokens. Only a SHA-256 of each key is stored, so a database leak reveals no key.

A key is 32 random bytes: far too much entropy to guess, so a fast hash is enough (a slow
password hash would only slow every API request). The first characters are kept in clear as
a prefix, so a person can tell their tokens apart in lists and the audit log.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from api.signals import token_created, token_revoked

KEY_PREFIX = "bsk_"
PREFIX_LENGTH = len(KEY_PREFIX) + 8


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'PACS bridge'.")
    prefix = models.CharField(max_length=PREFIX_LENGTH, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    @classmethod
    def issue(cls, user: models.Model, name: str) -> tuple[ApiToken, str]:
        """Create a token; returns it with its key, which is shown once and never again."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user,
            name=name.strip() or "API token",
            prefix=key[:PREFIX_LENGTH],
            key_hash=hash_key(key),
        )
        token_created.send(sender=cls, token=token)
        return token, key

    @classmethod
    def find(cls, key: str) -> ApiToken | None:
        """The active token with this key, with its user, or None."""
        return cls.objects.active().select_related("user").filter(key_hash=hash_key(key)).first()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def revoke(self) -> bool:
        """Stop the token working. Returns False if it was already revoked."""
        revoked = ApiToken.objects.filter(pk=self.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        self.refresh_from_db(fields=["revoked_at"])
        if revoked:
            token_revoked.send(sender=ApiToken, token=self)
        return revoked == 1

    def touch(self) -> None:
        """Note when the token was last used; at most one write a minute per token."""
        now = timezone.now()
        if self.last_used_at is None or (now - self.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now
