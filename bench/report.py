"""Print the latest full-stack benchmark results (bench/results/*.json) as Markdown tables.

python -m bench.report [--results bench/results]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench import history_mysql, load

RESULTS = Path(__file__).resolve().parent / "results"


def latest(folder: Path, kind: str) -> dict | None:
    files = sorted(folder.glob(f"{kind}-*.json"))
    return json.loads(files[-1].read_text()) if files else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    sections = []
    if (result := latest(args.results, "load")) is not None:
        sections.append(load.markdown(result))
    if (result := latest(args.results, "history")) is not None:
        sections.append(history_mysql.markdown(result))
    print("\n\n".join(sections) if sections else f"no results in {args.results}")


if __name__ == "__main__":
    main()
