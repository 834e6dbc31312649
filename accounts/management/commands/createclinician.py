from __future__ import annotations

from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.models import User
from accounts.roles import approve_clinician, make_reviewer
from accounts.verification import mark_email_verified


class Command(BaseCommand):
    help = "Create (or update) an approved clinician account with a verified e-mail address."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--name", default="")
        parser.add_argument("--reviewer", action="store_true", help="Also make them a reviewer.")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        email = User.objects.normalize_email(options["email"]).lower()
        user = User.objects.filter(email=email).first() or User(email=email)
        try:
            validate_password(options["password"], user)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        user.full_name = options["name"] or user.full_name
        user.set_password(options["password"])
        user.save()
        mark_email_verified(user)
        approve_clinician(user)
        if options["reviewer"]:
            make_reviewer(user)
        role = "clinician and reviewer" if options["reviewer"] else "clinician"
        self.stdout.write(self.style.SUCCESS(f"{email} is an approved {role}."))
