from __future__ import annotations

from django.urls import path

from studies import views

app_name = "studies"
urlpatterns = [
    path("", views.study_list, name="list"),
    path("upload/", views.upload, name="upload"),
    path("export.csv", views.export_csv, name="export"),
    path("<int:study_id>/", views.detail, name="detail"),
    path("<int:study_id>/status.json", views.status, name="status"),
    path("<int:study_id>/slices.csv", views.slices_csv, name="slices-csv"),
    path("<int:study_id>/slices/<int:index>.png", views.slice_image, name="slice-image"),
    path(
        "<int:study_id>/slices/<int:index>/heatmap.png", views.slice_heatmap, name="slice-heatmap"
    ),
    path("<int:study_id>/delete/", views.delete, name="delete"),
]
