"""Analyse image files from the command line: one JSON object per line on stdout.

    python -m ml.predict FILE... [--model ml/artifacts/brainscan.keras] [--heatmap DIR]

Each line: file, label, probabilities, tumour_probability, risk, accepted, gate_score,
gate_reason, heatmap_inside_brain, timings_ms. A file that cannot be analysed gives
{"file", "error"} and the exit status is 1; a missing or mismatched model exits with 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ml.artifacts import DEFAULT_MODEL

if TYPE_CHECKING:  # imported where used: TensorFlow loads only when a model is used
    from ml.serving.engine import Analysis, Engine


def analysis_record(file: str, analysis: Analysis) -> dict[str, Any]:
    """The JSON-ready fields of an Analysis (no image bytes)."""
    return {
        "file": file,
        "label": analysis.label,
        "probabilities": {k: round(v, 6) for k, v in analysis.probabilities.items()},
        "tumour_probability": _round(analysis.tumour_probability),
        "risk": analysis.risk,
        "accepted": analysis.accepted,
        "gate_score": round(analysis.gate_score, 4),
        "gate_reason": analysis.gate_reason,
        "heatmap_inside_brain": _round(analysis.heatmap_inside_brain),
        "heatmap_class": analysis.heatmap_class,
        "unfamiliar": analysis.unfamiliar,
        "timings_ms": analysis.timings_ms,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def predict_files(engine: Engine, files: list[str], heatmap_dir: Path | None) -> int:
    """Print one line per file; return how many failed."""
    from ml.serving.engine import UnreadableScan

    failures = 0
    for file in files:
        try:
            analysis = engine.analyze(Path(file).read_bytes())
        except (OSError, UnreadableScan) as exc:
            failures += 1
            print(json.dumps({"file": file, "error": _describe(exc)}), flush=True)
            continue
        if heatmap_dir is not None and analysis.overlay_png is not None:
            stem = Path(file).stem
            (heatmap_dir / f"{stem}.overlay.png").write_bytes(analysis.overlay_png)
            if analysis.heatmap_png is not None:  # 8-bit gray, the input's size: to score
                (heatmap_dir / f"{stem}.heatmap.png").write_bytes(analysis.heatmap_png)
        print(json.dumps(analysis_record(file, analysis)), flush=True)
    return failures


def _describe(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return f"cannot read file: {exc.strerror or type(exc).__name__}"
    return f"unreadable image: {exc}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ml.predict", description=__doc__.split("\n")[0]
    )
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument(
        "--heatmap",
        type=Path,
        metavar="DIR",
        help="write <stem>.overlay.png and <stem>.heatmap.png (8-bit gray, input size) here",
    )
    parser.add_argument("--threads", type=int, default=None, help="TensorFlow threads")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep stdout/stderr for results
    from ml.serving.engine import Engine
    from ml.serving.runtime import ModelUnavailable

    try:
        engine = Engine.load(args.model, threads=args.threads)
    except ModelUnavailable as exc:
        print(f"model unavailable: {exc}", file=sys.stderr)
        return 2
    if args.heatmap is not None:
        args.heatmap.mkdir(parents=True, exist_ok=True)
    return 1 if predict_files(engine, args.files, args.heatmap) else 0


if __name__ == "__main__":
    sys.exit(main())
