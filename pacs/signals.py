"""What the DICOM listener tells the rest of the site (the audit log listens; pacs does not
import it). No signal carries a patient identifier: AE titles and addresses are network
configuration, the rest are our own ids and counts."""

from __future__ import annotations

from django.dispatch import Signal

# An association refused at A-ASSOCIATE time. Keyword arguments: calling_ae, called_ae,
# address (the peer's IP address), reason (words, for the operator).
association_refused = Signal()
# A received study was read and submitted for analysis. Keyword arguments: receipt
# (pacs.models.ReceivedStudy, with its study set).
study_received = Signal()
# One attempt to send a study's results back. Keyword arguments: delivery
# (pacs.models.Delivery, after the attempt), succeeded (bool), reason (our own words).
delivery_attempted = Signal()
