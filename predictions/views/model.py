"""The model's pages: its card for clinicians, and for reviewers how the model in use does."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.http import AuthenticatedRequest
from predictions import card_page
from predictions.model_card import (
    card_path,
    load_installed_card,
    operating_point_sentence,
    results_by_source,
)
from predictions.models import CLASSES, Label
from predictions.monitoring import models_in_use
from predictions.views.access import reviewer_required


@login_required
@require_GET
def model_card(request: AuthenticatedRequest) -> HttpResponse:
    """The installed model's card, or a plain page saying that no model is installed yet."""
    card = load_installed_card()
    transfer, source_rows = results_by_source(card)
    uses, limits = card_page.limits(card.data) if card else ([], [])
    context = {
        "transfer_summary": transfer,
        "source_rows": source_rows,
        "card": card,
        "card_file": card_path().name,
        "operating_point": operating_point_sentence(card),
        "asked_version": request.GET.get("version", "")[:64],
        "details": card_page.details(card.data) if card else [],
        "performance": card_page.performance(card.data) if card else [],
        "intended_use": uses,
        "known_limits": limits,
        "class_labels": card_page.class_labels(card.data) if card else [],
        "normal_label": card_page.normal_label(card.data) if card else "",
    }
    return render(request, "predictions/model_card.html", context)


@reviewer_required
@require_GET
def model_in_use(request: AuthenticatedRequest) -> HttpResponse:
    context = {
        "models": models_in_use(),
        "classes": [(name, Label(name).label) for name in CLASSES],
    }
    return render(request, "predictions/model_in_use.html", context)
