"""Array types of one slice, and the dtype OpenCV keeps.

OpenCV's stubs return `MatLike` (any numeric dtype) from every function, although resize, warp,
blur, erode and imdecode give back the dtype they were given; `as_gray` and `as_float32` say
so to the type checker (np.asarray: the same array, no copy, when the dtype is already right).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

Gray = NDArray[np.uint8]  # a 2-D uint8 slice or crop
Float = NDArray[np.float32]
Mask = NDArray[np.bool_]


def as_gray(array: NDArray[Any]) -> Gray:
    return np.asarray(array, dtype=np.uint8)


def as_float32(array: NDArray[Any]) -> Float:
    return np.asarray(array, dtype=np.float32)
