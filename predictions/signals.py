"""Signals predictions sends, so the audit log can react without predictions importing it."""

from __future__ import annotations

from django.dispatch import Signal

# Sent after a reviewer records or changes a verdict. Arguments: prediction, reviewer.
review_recorded = Signal()
