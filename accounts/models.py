from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        """An operator at the console vouches for the address: it is recorded as verified, or
        mandatory e-mail verification would hold the first administrator at the sign-in."""
        from accounts.verification import mark_email_verified  # allauth's models need ours

        extra.update(is_staff=True, is_superuser=True)
        user = self.create_user(email, password, **extra)
        mark_email_verified(user)
        return user


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an e-mail address.

    Signing up gives an account, not the right to analyse scans: that is the
    `predictions.analyze_scan` permission, granted by approving the user as a clinician
    (see accounts.roles).
    """

    email = models.EmailField("e-mail address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(default=False, help_text="Can sign in to the admin site.")
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    approved_at = models.DateTimeField(null=True, blank=True, editable=False)
    blind_read = models.BooleanField(
        "blind read",
        default=False,
        db_default=False,  # rows written by code that predates the column get it too
        help_text="Reviewers: see each image first and record a first impression before the "
        "AI's answer is shown.",
    )
    # When this clinician last opened their history: reviews recorded after it are "new".
    reviews_seen_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ("email",)

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email

    @property
    def can_analyze(self) -> bool:
        return self.is_active and self.has_perm("predictions.analyze_scan")

    @property
    def is_reviewer(self) -> bool:
        return self.is_active and self.has_perm("predictions.review_scan")
