"""Signals accounts sends, so other apps (the audit log) can react without accounts importing them."""

from __future__ import annotations

from django.dispatch import Signal

# Sent after a user is approved as a clinician. Arguments: user.
clinician_approved = Signal()
