from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def synthetic_head() -> np.ndarray:
    """A 200x240 black frame with a bright ellipse (the 'head') off-centre."""
    import cv2

    img = np.zeros((200, 240), np.uint8)
    cv2.ellipse(img, (140, 90), (60, 50), 0, 0, 360, 160, thickness=-1)
    cv2.circle(img, (150, 95), 12, 250, thickness=-1)  # a bright 'lesion'
    return img
