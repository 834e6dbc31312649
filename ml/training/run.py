"""The whole recipe, in order: data, fit (or reload the earlier fit), finish, card."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ml.data.samples import list_samples
from ml.data.sources import IXI
from ml.training import finish as post_fit
from ml.training import loop
from ml.training.config import TrainConfig
from ml.training.pipeline import load_data


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Run the whole recipe; returns the model card dict that was written."""
    started = time.time()
    samples = list_samples(cfg.data)
    data = load_data(cfg, samples)
    prep_seconds = time.time() - started
    ixi = sum(i.source == IXI for i in data.train)
    print(
        f"train {len(data.train)} ({ixi} IXI) / val {len(data.val)} images at {cfg.size}px, "
        f"preprocessing {cfg.preprocessing} (data ready in {prep_seconds:.0f}s)",
        flush=True,
    )

    result = loop.reload_fitted(cfg) if cfg.skip_fit else loop.fit(cfg, data)
    card = post_fit.finish(cfg, result, data, samples)
    card["training"]["data_prep_seconds"] = round(prep_seconds, 1)
    card["training"]["total_wall_seconds"] = round(time.time() - started, 1)
    if cfg.skip_fit:
        card["training"]["total_wall_seconds_of_fit_run"] = result["earlier_total_wall_seconds"]
    post_fit.write_card(Path(cfg.out), card)
    print(json.dumps({k: card[k] for k in ("version", "temperature", "risk_thresholds")}))
    print(f"validation: {json.dumps(card['metrics']['validation'], indent=None)[:400]}")
    return card
