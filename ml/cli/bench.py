"""Benchmark single-slice inference: `python -m ml.cli.bench --data DATA_DIR` (make bench-ml).

For 1 and 2 TensorFlow threads, each in a fresh process (TensorFlow fixes its thread
pools at start-up): model load time, p50/p95 of `Engine.analyze` without and with
Grad-CAM over >= 200 official test slices, per-stage medians, peak RSS, and, on the same
model and the same prepared inputs, the compiled call against per-image `model.predict`
(the pattern this engine replaces). Prints a Markdown table and writes
ml/reports/bench-ml.json and bench-ml.md. Run it while nothing else (training!) is.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ml.artifacts import CARD_FILE, DEFAULT_DATA, DEFAULT_MODEL, REPORTS_DIR
from ml.card import read_card
from ml.cli.markdown import table

if TYPE_CHECKING:  # imported where used: TensorFlow loads only when a model is used
    from ml.serving.engine import Engine

DEFAULT_OUT = REPORTS_DIR / "bench-ml.json"
WARMUP = 5
STAGES = ("decode", "gate", "preprocess", "model", "gradcam", "overlay")


def pick_slices(data: Path, n: int) -> list[Path]:
    """n official test slices spread evenly over the sorted list (all four classes)."""
    files = sorted(data.glob("Testing/*/*.jpg"))
    if len(files) < n:
        raise SystemExit(f"need {n} test slices under {data}/Testing, found {len(files)}")
    return [files[i] for i in np.linspace(0, len(files) - 1, n).round().astype(int)]


def percentiles(
    values: list[float], points: tuple[int, ...] = (50, 95), *, scale: float = 1.0, digits: int = 2
) -> dict[str, float]:
    """{"p50": ..., "p95": ...} of `values` times `scale`, rounded; {} when there are none.

    Shared by every benchmark here and in bench/ so their summaries read alike.
    """
    if len(values) == 0:
        return {}
    array = np.asarray(values, dtype=float) * scale
    return {f"p{point}": round(float(np.percentile(array, point)), digits) for point in points}


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def _timed(fn: Callable[[Any], object], items: Iterable[Any]) -> list[float]:
    times = []
    for item in items:
        start = time.perf_counter()
        fn(item)
        times.append(1000 * (time.perf_counter() - start))
    return times


def worker(
    model: Path, data: Path, n: int, threads: int, precision: str = "float32"
) -> dict[str, Any]:
    """One process, one setting: everything measured on the same n slices."""
    from ml.serving.engine import Engine

    start = time.perf_counter()
    engine = Engine.load(model, threads=threads, bfloat16=precision == "bfloat16")
    load_s = time.perf_counter() - start
    blobs = [path.read_bytes() for path in pick_slices(data, n)]
    for blob in blobs[:WARMUP]:
        engine.analyze(blob)
    plain = [engine.analyze(blob, explain=False) for blob in blobs]
    explained = [engine.analyze(blob) for blob in blobs]
    rss_serving = _peak_rss_mb()
    return {
        "threads": threads,
        "precision": precision,
        "n": n,
        "load_s": round(load_s, 2),
        "accepted": sum(a.accepted for a in explained),
        "analyze_ms": percentiles([a.timings_ms["total"] for a in plain]),
        "analyze_gradcam_ms": percentiles([a.timings_ms["total"] for a in explained]),
        "stage_p50_ms": {
            s: round(float(np.median([a.timings_ms[s] for a in explained])), 2) for s in STAGES
        },
        "peak_rss_mb_serving": rss_serving,
        "model_call": _model_call_comparison(engine, blobs),
        "peak_rss_mb_end": _peak_rss_mb(),
        "probabilities": [list(a.probabilities.values()) for a in plain],
    }


def _model_call_comparison(engine: Engine, blobs: list[bytes]) -> dict[str, Any]:
    """The compiled forward pass vs per-image `model.predict` on identical inputs."""
    from ml.image.decode import decode_image
    from ml.image.preprocess import prepare

    size = engine.card.input_size
    method = engine.card.preprocessing_method
    batches = [prepare(decode_image(b), size, method).tensor[np.newaxis] for b in blobs]
    compiled = _timed(engine.served.forward, batches)
    model = engine.served.model
    model.predict(batches[0], verbose=0)  # first call builds the predict function
    per_call = _timed(lambda x: model.predict(x, verbose=0), batches)
    compiled_p50, predict_p50 = np.median(compiled), np.median(per_call)
    return {
        "compiled_ms": percentiles(compiled),
        "model_predict_ms": percentiles(per_call),
        "speedup_p50": round(float(predict_p50 / compiled_p50), 1),
    }


def run(
    model: Path, data: Path, n: int, thread_counts: list[int], precisions: list[str]
) -> dict[str, Any]:
    """Each setting in its own fresh process; returns everything for the report."""
    load_before = os.getloadavg()[0]  # anything else running skews the numbers; say so
    runs = []
    for precision in precisions:
        for threads in thread_counts:
            command = [sys.executable, "-m", "ml.cli.bench", "--worker", "--threads", str(threads)]
            command += ["--precision", precision, "--model", str(model), "--data", str(data)]
            env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
            done = subprocess.run(  # noqa: S603 - our own module, our own arguments
                [*command, "--n", str(n)], capture_output=True, text=True, env=env, check=True
            )
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    agreement = _agreement(runs)
    for r in runs:
        del r["probabilities"]  # thousands of numbers; the agreement summary keeps their gist
    card = read_card(model.parent / CARD_FILE)
    return {
        "model": {k: card.get(k) for k in ("version", "architecture", "input_size", "parameters")},
        "machine": {
            "cpu_count": os.cpu_count(),
            "processor": platform.processor(),
            "load_average_1min_before": round(load_before, 2),
        },
        "training_running": _training_running(),
        "runs": runs,
        "bfloat16_vs_float32": agreement,
    }


def _agreement(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """How far bfloat16 probabilities are from float32 ones on the same accepted slices."""
    by_precision = {r["precision"]: r["probabilities"] for r in runs}
    if {"float32", "bfloat16"} - set(by_precision):
        return None
    pairs = [
        (exact, fast)
        for exact, fast in zip(by_precision["float32"], by_precision["bfloat16"], strict=True)
        if exact and fast  # [] = rejected by the gate
    ]
    exact, fast = (np.array(side) for side in zip(*pairs, strict=True))
    return {
        "slices": len(pairs),
        "max_abs_probability_difference": round(float(np.abs(exact - fast).max()), 5),
        "same_label": round(float((exact.argmax(1) == fast.argmax(1)).mean()), 4),
    }


def _training_running() -> bool:
    """Benchmarks during training measure the training; the report says so."""
    done = subprocess.run(["pgrep", "-f", r"ml\.(cli\.)?train"], capture_output=True, check=False)  # noqa: S607
    return done.returncode == 0


BENCH_COLUMNS = [
    "precision",
    "threads",
    "load s",
    "analyze p50 / p95 ms",
    "+ Grad-CAM p50 / p95 ms",
    "model call p50 ms",
    "`model.predict` p50 ms",
    "speed-up",
    "peak RSS MB",
]


def _bench_row(r: dict[str, Any]) -> list[object]:
    call = r["model_call"]
    return [
        r["precision"],
        r["threads"],
        r["load_s"],
        f"{r['analyze_ms']['p50']} / {r['analyze_ms']['p95']}",
        f"{r['analyze_gradcam_ms']['p50']} / {r['analyze_gradcam_ms']['p95']}",
        call["compiled_ms"]["p50"],
        call["model_predict_ms"]["p50"],
        f"{call['speedup_p50']}x",
        r["peak_rss_mb_serving"],
    ]


def markdown(result: dict[str, Any]) -> str:
    model = result["model"]
    lines = [
        f"Model `{model['version']}` ({model['architecture']}, {model['input_size']} px, "
        f"{model['parameters']} parameters), {result['runs'][0]['n']} official test slices.",
        "",
        table(BENCH_COLUMNS, [_bench_row(r) for r in result["runs"]], "lrrrrrrrr"),
    ]
    lines += [
        "",
        f"Machine: {result['machine']['cpu_count']} cores, 1-minute load average before the "
        f"run {result['machine']['load_average_1min_before']}.",
    ]
    stages = ", ".join(f"{k} {v}" for k, v in result["runs"][0]["stage_p50_ms"].items())
    lines += [
        "",
        f"Stage medians with Grad-CAM, {result['runs'][0]['threads']} thread(s), ms: {stages}.",
    ]
    if result.get("bfloat16_vs_float32"):
        lines += [
            "",
            f"bfloat16 against float32 on the same slices: {result['bfloat16_vs_float32']}.",
        ]
    if result["training_running"]:
        lines += ["", "**Warning: a training run was active; these numbers are pessimistic.**"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m ml.cli.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=200, help="test slices per measurement")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--precision", nargs="+", choices=("float32", "bfloat16"), default=["float32", "bfloat16"]
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.model, args.data, args.n, args.threads[0], args.precision[0])))
        return
    result = run(args.model, args.data, args.n, args.threads, args.precision)
    table = markdown(result)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()
