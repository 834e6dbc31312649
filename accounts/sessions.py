"""Session lifetime: an idle timeout besides the absolute one.

SESSION_COOKIE_AGE alone would not end a session: Django pushes the expiry forward whenever
the session is saved, and a workstation left signed in on a ward keeps another person's
scans open. Two limits apply to every signed-in session, checked on each request:
- idle: no request of the person's own for SESSION_IDLE_TIMEOUT seconds (0 turns it off);
  the page's own status polling does not count as activity;
- absolute: SESSION_COOKIE_AGE seconds after sign-in, however active.
Either signs the person out (recorded like any sign-out) and sends them to the sign-in page.
API calls authenticate by token and carry no session, so neither limit concerns them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse

STARTED_KEY = "brainscan_session_started"
ACTIVE_KEY = "brainscan_last_active"
# Writing the time on every request would save the session on every request; a minute's
# precision is plenty for a limit of minutes.
ACTIVITY_RESOLUTION_SECONDS = 60
# Requests the pages' scripts send by themselves: not a sign that someone is there.
PASSIVE_SUFFIXES = ("/status.json",)
MESSAGE = "You were signed out after a period without activity. Sign in again to continue."


class SessionTimeoutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        now = time.time()
        if _expired(request, now):
            logout(request)
            messages.info(request, MESSAGE)
            return redirect_to_login(request.get_full_path())
        _note_activity(request, now)
        return self.get_response(request)


def session_started(sender: object, request: HttpRequest, **_: object) -> None:
    """On every sign-in (user_logged_in): both clocks start now."""
    now = time.time()
    request.session[STARTED_KEY] = now
    request.session[ACTIVE_KEY] = now


def _expired(request: HttpRequest, now: float) -> bool:
    session = request.session
    started = session.setdefault(STARTED_KEY, now)
    last = session.get(ACTIVE_KEY, started)
    idle = settings.SESSION_IDLE_TIMEOUT
    return now - started > settings.SESSION_COOKIE_AGE or (idle > 0 and now - last > idle)


def _note_activity(request: HttpRequest, now: float) -> None:
    if request.path.endswith(PASSIVE_SUFFIXES):
        return
    if now - request.session.get(ACTIVE_KEY, 0) >= ACTIVITY_RESOLUTION_SECONDS:
        request.session[ACTIVE_KEY] = now
