"""What the study worker tells the rest of the site (pacs sends results back on it)."""

from __future__ import annotations

from django.dispatch import Signal

# A study's outcome was written (done, rejected or failed), once per study. Keyword
# arguments: study (studies.models.Study, reloaded).
study_finished = Signal()
