from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from accounts.verification import mark_email_verified


class Command(BaseCommand):
    help = (
        "Mark an account's e-mail address as verified, for an operator who has checked it "
        "another way (the site's mail does not work yet, say): sign-in and approval need it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")

    def handle(self, *args: Any, **options: Any) -> None:
        email = User.objects.normalize_email(options["email"]).lower()
        user = User.objects.filter(email=email).first()
        if user is None:
            raise CommandError(f"There is no account for {email}.")
        mark_email_verified(user)
        self.stdout.write(self.style.SUCCESS(f"{email} is verified."))
