from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.http import AuthenticatedRequest


def landing(request: HttpRequest) -> HttpResponse:
    """The start page: what brainscan is and is not; signed-in people go to their work."""
    if request.user.is_authenticated:
        return redirect("predictions:dashboard")  # which sends a reviewer to the desk
    return render(request, "landing.html")


@login_required
def account_home(request: AuthenticatedRequest) -> HttpResponse:
    return render(request, "accounts/home.html", {"account_user": request.user})
