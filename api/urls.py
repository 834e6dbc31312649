from __future__ import annotations

from django.urls import path, re_path

from api import studies, token_pages, views
from api.schema import SchemaView

app_name = "api"
urlpatterns = [
    path("schema", SchemaView.as_view(), name="schema"),
    path("analyze", views.AnalyzeView.as_view(), name="analyze"),
    path("scans", views.ScanListView.as_view(), name="scans"),
    path("scans/<int:scan_id>", views.ScanDetailView.as_view(), name="scan-detail"),
    path("scans/<int:scan_id>/image", views.ScanImageView.as_view(), name="scan-image"),
    path("scans/<int:scan_id>/overlay.png", views.OverlayImageView.as_view(), name="overlay-image"),
    path("scans/<int:scan_id>/heatmap.png", views.HeatmapImageView.as_view(), name="heatmap-image"),
    path("studies", studies.StudyListView.as_view(), name="studies"),
    path("studies/<int:study_id>", studies.StudyDetailView.as_view(), name="study-detail"),
    path("studies/<int:study_id>/slices", studies.StudySlicesView.as_view(), name="study-slices"),
    path(
        "studies/<int:study_id>/slices/<int:index>/image.png",
        studies.StudySliceImageView.as_view(),
        name="study-slice-image",
    ),
    path(
        "studies/<int:study_id>/slices/<int:index>/heatmap.png",
        studies.StudySliceHeatmapView.as_view(),
        name="study-slice-heatmap",
    ),
    # Token management for signed-in people (session and CSRF, like every other page).
    path("tokens/new", token_pages.create_token, name="token-create"),
    path("tokens/<int:token_id>/revoke", token_pages.revoke_token, name="token-revoke"),
    re_path(r"^.*$", views.NotFoundView.as_view(), name="not-found"),
]
