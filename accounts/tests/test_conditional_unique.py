"""On MySQL/MariaDB allauth's conditional unique constraints are not created (models.W036);
accounts migration 0002 enforces them with generated columns (issue 15, "Also"). Runs in
.ci/run's services pass (DB=mysql); skipped on SQLite, which has allauth's own indexes."""

from __future__ import annotations

import threading

import pytest
from allauth.mfa.models import Authenticator
from django.db import IntegrityError, connection, connections, transaction

from accounts.tests.factories import UserFactory

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(connection.vendor != "mysql", reason="MySQL/MariaDB only"),
]


@pytest.mark.django_db
def test_a_verified_address_belongs_to_one_account_only():
    from allauth.account.models import EmailAddress

    UserFactory(email="shared@example.org")  # verified
    other = UserFactory(email="other@example.org")

    with pytest.raises(IntegrityError), transaction.atomic():
        EmailAddress.objects.create(user=other, email="shared@example.org", verified=True)
    EmailAddress.objects.create(user=other, email="shared@example.org", verified=False)


@pytest.mark.django_db
def test_one_primary_address_per_user():
    from allauth.account.models import EmailAddress

    user = UserFactory(email="one@example.org")

    with pytest.raises(IntegrityError), transaction.atomic():
        EmailAddress.objects.create(user=user, email="two@example.org", primary=True)
    EmailAddress.objects.create(user=user, email="two@example.org", primary=False)


@pytest.mark.django_db(transaction=True)
def test_concurrent_totp_activations_leave_one_authenticator():
    """Two requests activating TOTP at once, each on its own connection, as two workers."""
    user = UserFactory(email="twice@example.org")
    start = threading.Barrier(4)
    outcomes: list[str] = []

    def activate() -> None:
        try:
            start.wait()
            with transaction.atomic():
                Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={})
            outcomes.append("created")
        except IntegrityError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=activate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["created", "refused", "refused", "refused"]
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).count() == 1
