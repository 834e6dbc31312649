"""brainscan machine-learning package: plain Python, no Django.

Importing the package is cheap: TensorFlow is only imported by the modules that need it
(networks, training, serving, the evaluation commands), never here. Layout: docs/ARCHITECTURE.md.
"""

from __future__ import annotations

CLASS_NAMES: tuple[str, ...] = ("glioma", "meningioma", "notumor", "pituitary")
NORMAL_CLASS = "notumor"
