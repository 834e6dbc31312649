"""Creating and revoking API tokens from the account page (session login, CSRF-protected)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.http import AuthenticatedRequest
from api.models import ApiToken

MAX_ACTIVE_TOKENS = 20


class TokenForm(forms.Form):
    name = forms.CharField(
        label="What is this token for?",
        max_length=100,
        help_text="For example 'PACS bridge' or 'research script'. Not a patient name.",
    )


@login_required
@require_POST
def create_token(request: AuthenticatedRequest) -> HttpResponse:
    if not request.user.can_analyze:
        return render(request, "accounts/awaiting_approval.html", status=403)
    form = TokenForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the token a name of up to 100 characters.")
        return redirect("accounts:home")
    if request.user.api_tokens.active().count() >= MAX_ACTIVE_TOKENS:
        messages.error(request, f"You have {MAX_ACTIVE_TOKENS} active tokens: revoke one first.")
        return redirect("accounts:home")
    token, key = ApiToken.issue(request.user, form.cleaned_data["name"])
    # The key is shown once, in this response only; it must not be cached anywhere.
    response = render(request, "api/token_created.html", {"token": token, "key": key})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def revoke_token(request: AuthenticatedRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    if token.revoke():
        messages.success(request, f"Token {token.prefix}… revoked; it no longer works.")
    return redirect("accounts:home")
