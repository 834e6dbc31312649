"""Signals the API app sends, for the audit log."""

from __future__ import annotations

from django.dispatch import Signal

# Arguments: token (an ApiToken). The key itself is never sent anywhere.
token_created = Signal()
token_revoked = Signal()
