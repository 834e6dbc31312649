from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import User
from accounts.roles import CLINICIANS, NotVerified, approve_clinician
from accounts.verification import has_verified_email


class UserForm(UserChangeForm):
    def clean_groups(self) -> Any:
        """Putting someone in the clinicians group by hand is an approval too."""
        groups = self.cleaned_data["groups"]
        becomes_clinician = any(group.name == CLINICIANS for group in groups)
        if becomes_clinician and not has_verified_email(self.instance):
            raise forms.ValidationError(NotVerified.MESSAGE)
        return groups


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = UserForm
    ordering = ("-date_joined",)
    list_display = (
        "email",
        "email_verified",
        "full_name",
        "is_active",
        "is_staff",
        "approved_at",
        "date_joined",
    )
    list_filter = ("is_active", "is_staff", "is_superuser", "groups")
    search_fields = ("email", "full_name")
    readonly_fields = ("email_verified", "approved_at", "date_joined", "last_login")
    fieldsets = (
        (None, {"fields": ("email", "email_verified", "password")}),
        ("Person", {"fields": ("full_name",)}),
        (
            "Access",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("date_joined", "last_login", "approved_at")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    actions = ("approve_as_clinicians",)

    @admin.display(description="e-mail verified", boolean=True)
    def email_verified(self, user: User) -> bool:
        return has_verified_email(user)

    @admin.action(description="Approve selected accounts as clinicians", permissions=["change"])
    def approve_as_clinicians(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        """Only verified addresses: an approval vouches for a person reachable at theirs."""
        approved, unverified = 0, []
        for user in queryset:
            try:
                approved += approve_clinician(user)
            except NotVerified:
                unverified.append(user.email)
        messages.success(request, f"{approved} account(s) approved as clinicians.")
        if unverified:
            messages.error(
                request,
                f"Not approved, e-mail address not verified: {', '.join(unverified)}. They "
                "confirm it from the mail they were sent, or an operator who has checked it "
                "runs `manage.py verifyemail`.",
            )
