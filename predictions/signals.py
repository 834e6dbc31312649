"""Signals predictions sends, so the audit log and studies can react without predictions
importing them (both build on predictions)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent after a reviewer records or changes a verdict. Arguments: prediction, reviewer.
review_recorded = Signal()

# Sent by retention.purge_expired_images after the scans' images went. Arguments: days, now.
# A receiver purges its own rows' expired images (studies) and returns how many it purged.
retention_due = Signal()

# Sent by retention.purge_orphan_files. A receiver returns the names in private storage that
# its rows refer to (the studies' slices), so they are not taken for orphans.
stored_files_referenced = Signal()
