"""The engine's raw single-process throughput: Engine.analyze on each slice, one after another.

The reference for the full-stack benchmark: the same slices, the same model, the same thread
count as a worker, with no web server, queue or database in the way. Prints one JSON object.

    python -m bench.engine_raw --model ml/artifacts/brainscan.keras --files list.txt
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ml.cli.bench import percentiles


def measure(model: Path, files: list[Path], threads: int = 1) -> dict[str, float | str]:
    from ml.serving.engine import Engine

    started = time.perf_counter()
    engine = Engine.load(model, threads=threads)
    load_seconds = time.perf_counter() - started
    images = [path.read_bytes() for path in files]
    engine.analyze(images[0])  # first call: allocations and lazy initialisation
    times = []
    accepted = 0
    begin = time.perf_counter()
    for data in images:
        one = time.perf_counter()
        accepted += engine.analyze(data).accepted  # with Grad-CAM, as the worker does
        times.append(time.perf_counter() - one)
    total = time.perf_counter() - begin
    return {
        "images": len(images),
        "accepted": accepted,
        "seconds": round(total, 3),
        "per_second": round(len(images) / total, 3),
        **{f"{k}_ms": v for k, v in percentiles(times, scale=1000, digits=1).items()},
        "load_seconds": round(load_seconds, 2),
        "threads": threads,
        "model_version": engine.version,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--files", type=Path, required=True, help="a text file, one path a line")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    files = [Path(line) for line in args.files.read_text().splitlines() if line.strip()]
    print(json.dumps(measure(args.model, files, args.threads)))


if __name__ == "__main__":
    main()
