"""Copy each scan's owner and upload time onto its prediction, and index them for the history.

Both values are fixed once a scan exists, so the copies cannot drift. Existing rows are
filled from their scans in one UPDATE before the columns become NOT NULL.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copy_from_scans(apps, schema_editor):
    Prediction = apps.get_model("predictions", "Prediction")
    Scan = apps.get_model("predictions", "Scan")
    scan = Scan.objects.filter(pk=OuterRef("scan_id"))
    Prediction.objects.update(
        owner_id=Subquery(scan.values("owner_id")[:1]),
        uploaded_at=Subquery(scan.values("uploaded_at")[:1]),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("predictions", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="prediction",
            name="owner",
            field=models.ForeignKey(
                null=True,
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="prediction",
            name="uploaded_at",
            field=models.DateTimeField(null=True, editable=False),
        ),
        migrations.RunPython(copy_from_scans, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="prediction",
            name="owner",
            field=models.ForeignKey(
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="prediction",
            name="uploaded_at",
            field=models.DateTimeField(editable=False),
        ),
        migrations.AddIndex(
            model_name="prediction",
            index=models.Index(
                fields=["owner", "label", "risk", "status", "review_verdict", "uploaded_at"],
                name="prediction_history_counts",
            ),
        ),
        migrations.AddIndex(
            model_name="prediction",
            index=models.Index(
                fields=["owner", "uploaded_at", "scan"], name="prediction_owner_recent"
            ),
        ),
    ]
