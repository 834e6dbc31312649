from __future__ import annotations

import hashlib

import factory
from django.core.files.base import ContentFile

from accounts.tests.factories import UserFactory
from predictions.models import Prediction, Scan
from predictions.tests.images import png_bytes


class ScanFactory(factory.django.DjangoModelFactory[Scan]):
    """A scan with a real tiny PNG in private storage."""

    class Meta:
        model = Scan

    owner = factory.SubFactory(UserFactory)
    image = factory.LazyFunction(lambda: ContentFile(png_bytes(), name="scan.png"))
    sha256 = factory.LazyFunction(lambda: hashlib.sha256(png_bytes()).hexdigest())
    source_format = "PNG"
    content_type = "image/png"
    width = 64
    height = 64
    file_size = factory.LazyFunction(lambda: len(png_bytes()))


class PredictionFactory(factory.django.DjangoModelFactory[Prediction]):
    class Meta:
        model = Prediction

    scan = factory.SubFactory(ScanFactory)
