from __future__ import annotations

from django.urls import path

from predictions import views, views_privacy, views_review, views_workspace

app_name = "predictions"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("upload/", views.upload, name="upload"),
    path("upload/file.json", views_workspace.upload_file, name="upload-file"),
    path("export.csv", views_workspace.export_csv, name="export"),
    path("model/", views_workspace.model_card, name="model-card"),
    path("model-in-use/", views_review.model_in_use, name="model-in-use"),
    path("model-in-use/reviewed.csv", views_review.reviewed_csv, name="reviewed-csv"),
    path("all-history.csv", views_review.all_history_csv, name="all-history-csv"),
    path("batch/<uuid:batch>/", views.batch, name="batch"),
    path("batch/<uuid:batch>/status.json", views.batch_status, name="batch-status"),
    path("<int:scan_id>/", views.detail, name="detail"),
    path("<int:scan_id>/status.json", views.status, name="status"),
    path("<int:scan_id>/image", views.scan_image, name="scan-image"),
    path("<int:scan_id>/preview.png", views_workspace.scan_preview, name="scan-preview"),
    path("<int:scan_id>/overlay.png", views.overlay_image, name="overlay-image"),
    path("<int:scan_id>/heatmap.png", views.heatmap_image, name="heatmap-image"),
    path("<int:scan_id>/delete/", views_privacy.delete_scan, name="delete"),
]
