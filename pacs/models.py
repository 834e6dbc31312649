"""DICOM nodes allowed to send us studies, and the bookkeeping of what they sent.

A `DicomNode` is an allow-list entry: the calling AE title and the address its associations
come from, the clinician account that owns every study it sends, and where results go back. A `ReceivedStudy` is one study as it arrives over the
network: counts and times only. Its instances, with all their identifiers, wait in the private
spool (pacs.spool) under a random key until the study is complete; no UID, name or date from
a header is ever stored in these rows. Once read, the study is an ordinary `studies.Study`
(de-identified as an upload is) and the spool folder is deleted.

The one exception: `ReceivedStudy.sealed_identifiers`, the identifiers a PACS needs to file our
results in the patient's study (pacs.identifiers), Fernet-encrypted, read only by the sending
code (pacs.delivery) and erased once the results were delivered or after
PACS_IDENTIFIERS_RETENTION_HOURS. A `Delivery` is the sending of one study's results: a
small state machine that makes it happen once, however many times its task runs.
"""

from __future__ import annotations

import ipaddress
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

# An AE title: 1-16 characters of the default character repertoire, no backslash, no
# control characters, not only spaces (PS3.5 6.2, VR "AE").
AE_TITLE = re.compile(r"[\x20-\x5b\x5d-\x7e]{1,16}")


def validate_ae_title(value: str) -> None:
    if not AE_TITLE.fullmatch(value) or not value.strip():
        raise ValidationError(
            "An AE title is 1 to 16 printable ASCII characters, without a backslash."
        )


def normalise_address(address: str) -> str:
    """An IPv4 peer seen on an IPv6 socket ("::ffff:10.0.0.5") is that IPv4 address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


class DicomNode(models.Model):
    name = models.CharField(
        max_length=64, unique=True, help_text="What the node is, e.g. 'MR scanner 2' or 'PACS'."
    )
    ae_title = models.CharField(
        "calling AE title",
        max_length=16,
        validators=[validate_ae_title],
        help_text="The AE title the node calls from (case-sensitive, as it sends it).",
    )
    host = models.GenericIPAddressField(
        "address",
        unpack_ipv4=True,
        help_text="The IP address its associations come from; any other is refused.",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="dicom_nodes",
        help_text="The clinician who owns every study this node sends (it appears in their "
        "history). Must be an approved clinician.",
    )
    active = models.BooleanField(default=True, help_text="Inactive nodes are refused.")
    # Where results go back (C-STORE of the SR and key images); all three, or none (no send).
    return_ae_title = models.CharField(
        "destination AE title",
        max_length=16,
        blank=True,
        validators=[validate_ae_title],
        help_text="The AE title of the PACS that stores our results (called AE title).",
    )
    return_host = models.CharField(
        "destination host", max_length=255, blank=True, help_text="Its host name or IP address."
    )
    return_port = models.PositiveIntegerField(
        "destination port",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(65535)],
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ("name",)
        verbose_name = "DICOM node"
        constraints = [
            models.UniqueConstraint(fields=["ae_title", "host"], name="dicom_node_ae_host_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.ae_title} at {self.host})"

    @property
    def sends_results(self) -> bool:
        return bool(self.return_ae_title and self.return_host and self.return_port)

    def clean(self) -> None:
        super().clean()
        if self.owner_id is not None and not self.owner.can_analyze:
            raise ValidationError(
                {"owner": "The owner must be an active clinician approved to analyse scans."}
            )
        given = [bool(self.return_ae_title), bool(self.return_host), self.return_port is not None]
        if any(given) and not all(given):
            raise ValidationError(
                "Give the destination's AE title, host and port, or none of them (no results sent)."
            )


class ReceivedStudy(models.Model):
    class Status(models.TextChoices):
        RECEIVING = "receiving", "Receiving"
        READING = "reading", "Reading"
        SUBMITTED = "submitted", "Submitted for analysis"
        REFUSED = "refused", "Refused (nothing to analyse, or over a limit)"
        FAILED = "failed", "Failed"

    node = models.ForeignKey(
        DicomNode, null=True, on_delete=models.SET_NULL, related_name="received"
    )
    # The name of its spool folder: random, not derived from any identifier.
    spool_key = models.CharField(max_length=32, unique=True, editable=False)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.RECEIVING, db_index=True
    )
    first_received_at = models.DateTimeField(default=timezone.now)
    last_received_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    instances = models.PositiveIntegerField(default=0)  # distinct instances kept
    duplicates = models.PositiveIntegerField(default=0)  # retransmissions, not kept twice
    instances_refused = models.PositiveIntegerField(default=0)  # over the study limits
    bytes = models.PositiveBigIntegerField(default=0)
    associations = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)  # reads that failed unexpectedly
    study = models.OneToOneField(
        "studies.Study",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="dicom_receipt",
    )
    error = models.TextField(blank=True)
    # The return identifiers, Fernet-encrypted (pacs.identifiers); null once erased.
    sealed_identifiers = models.BinaryField(null=True, blank=True, editable=False)
    identifiers_erased_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ("-first_received_at", "-id")
        verbose_name = "received study"
        verbose_name_plural = "received studies"

    def __str__(self) -> str:
        return f"Received study {self.pk} ({self.status})"


class Delivery(models.Model):
    """Sending one received study's results back: PENDING (queued) -> SENDING (one task has
    claimed it) -> DELIVERED, or -> RETRYING (the PACS did not take them; tried again later)
    -> SENDING ..., or FAILED after PACS_SEND_MAX_ATTEMPTS. NOT_SENT: nothing to send (no
    result, or the identifiers were gone). Every transition is one conditional UPDATE, so a
    task run twice, or run again after success, sends nothing more. The error is our own
    words (no identifier, no header value)."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Sending"
        RETRYING = "retrying", "Failed, retrying"
        DELIVERED = "delivered", "Sent to PACS"
        FAILED = "failed", "Failed, gave up"
        NOT_SENT = "not_sent", "Not sent"

    OPEN = (State.PENDING, State.SENDING, State.RETRYING)

    receipt = models.OneToOneField(ReceivedStudy, on_delete=models.CASCADE, related_name="delivery")
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    objects_sent = models.PositiveSmallIntegerField(default=0)  # SR + key images, when delivered
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"Delivery {self.pk} ({self.state})"
