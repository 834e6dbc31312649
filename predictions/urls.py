from __future__ import annotations

from django.urls import path

from predictions.views import exports, files, model, scans

app_name = "predictions"
urlpatterns = [
    path("", scans.dashboard, name="dashboard"),
    path("upload/", scans.upload, name="upload"),
    path("upload/file.json", scans.upload_file, name="upload-file"),
    path("export.csv", exports.export_csv, name="export"),
    path("model/", model.model_card, name="model-card"),
    path("model-in-use/", model.model_in_use, name="model-in-use"),
    path("model-in-use/reviewed.csv", exports.reviewed_csv, name="reviewed-csv"),
    path("all-history.csv", exports.all_history_csv, name="all-history-csv"),
    path("batch/<uuid:batch>/", scans.batch, name="batch"),
    path("batch/<uuid:batch>/status.json", scans.batch_status, name="batch-status"),
    path("<int:scan_id>/", scans.detail, name="detail"),
    path("<int:scan_id>/status.json", scans.status, name="status"),
    path("<int:scan_id>/image", files.scan_image, name="scan-image"),
    path("<int:scan_id>/preview.png", files.scan_preview, name="scan-preview"),
    path("<int:scan_id>/overlay.png", files.overlay_image, name="overlay-image"),
    path("<int:scan_id>/heatmap.png", files.heatmap_image, name="heatmap-image"),
    path("<int:scan_id>/delete/", scans.delete_scan, name="delete"),
]
