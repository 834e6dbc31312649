"""`python manage.py issuetoken EMAIL`: print a new API token key for an operator to hand over."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from api.models import ApiToken


class Command(BaseCommand):
    help = "Create an API token for the user with this e-mail address and print its key once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--name", default="issued by an operator", help="What it is for.")

    def handle(self, *args: Any, email: str, name: str, **options: Any) -> None:
        user = User.objects.filter(email__iexact=email.strip()).first()
        if user is None:
            raise CommandError("No account has this e-mail address.")
        if not user.is_active:
            raise CommandError("This account is disabled.")
        if not user.can_analyze:
            self.stderr.write(
                "Warning: this account is not approved as a clinician yet; the API will "
                "answer 403 until an administrator approves it."
            )
        token, key = ApiToken.issue(user, name)
        self.stderr.write(f"Token {token.prefix}… created for {user.email}. Its key (shown once):")
        self.stdout.write(key)
