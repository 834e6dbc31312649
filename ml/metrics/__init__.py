"""Numbers about predictions, in plain numpy: classification metrics, calibration, risk thresholds, per-source metrics."""
