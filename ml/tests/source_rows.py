"""One source's row of a per-source report, computed by the real metrics from a few slices
(glioma vs no tumour), for the report and transfer tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from ml.cli.evaluate_sources import SOURCE_NAMES
from ml.metrics.sources import source_metrics


def source_row(name: str, y, tumour_p, accepted, people) -> dict[str, Any]:
    probs = np.zeros((len(y), 4))
    probs[:, 0], probs[:, 2] = tumour_p, 1 - np.asarray(tumour_p)
    s = source_metrics(
        np.array(y), probs, np.array(accepted), people, {"medium": 0.2, "high": 0.5}, 2,
        n_resamples=20,
    )  # fmt: skip
    s["called_glioma"] = float((probs.argmax(1) == 0).mean())
    s["description"] = SOURCE_NAMES[name]
    return s
