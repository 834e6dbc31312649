from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render

from accounts.http import AuthenticatedRequest


@login_required
def account_home(request: AuthenticatedRequest) -> HttpResponse:
    return render(request, "accounts/home.html", {"account_user": request.user})
