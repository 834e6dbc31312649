"""Scans stored before issue 15 kept SeriesDescription and ManufacturerModelName as typed at
the scanner console, where a name or record number can hide. New uploads keep only known
words (predictions.dicom); for stored rows there is no header left to re-read, so the two
values are dropped."""

from django.db import migrations

FREE_TEXT = ("SeriesDescription", "ManufacturerModelName")


def drop_free_text(apps, schema_editor):
    Scan = apps.get_model("predictions", "Scan")
    for scan in Scan.objects.filter(source_format="DICOM").only("pk", "dicom_meta").iterator():
        meta = dict(scan.dicom_meta or {})
        if any(key in meta for key in FREE_TEXT):
            for key in FREE_TEXT:
                meta.pop(key, None)
            Scan.objects.filter(pk=scan.pk).update(dicom_meta=meta)


class Migration(migrations.Migration):
    dependencies = [("predictions", "0003_prediction_unfamiliar")]

    operations = [migrations.RunPython(drop_free_text, migrations.RunPython.noop)]
