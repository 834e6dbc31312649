"""Verified e-mail addresses: sign-up verifies them by mail, operators at the console directly.

E-mail verification is mandatory (settings), which is what lets sign-up answer the same way
whether or not an address already has an account. Accounts an operator creates
(createclinician, createsuperuser) or vouches for (`manage.py verifyemail`, for a site whose
mail does not work yet) are marked verified here, so nobody is stuck behind a mail that
never arrives.
"""

from __future__ import annotations

from allauth.account.models import EmailAddress

from accounts.models import User


def mark_email_verified(user: User) -> EmailAddress:
    """The user's own address, verified and primary (any other primary is demoted)."""
    EmailAddress.objects.filter(user=user).exclude(email__iexact=user.email).update(primary=False)
    address, _created = EmailAddress.objects.update_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
    return address


def has_verified_email(user: User) -> bool:
    return EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()
