"""Data audit: python -m ml.audit DATA_DIR [--out ml/reports].

Decodes every image, lists odd ones, finds exact and near duplicates, groups them
transitively (ml/data/duplicates.py), and writes the leak-free test subset that evaluation
reads, audit.json, AUDIT.md and the contact sheet of pairs around the threshold.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ml.artifacts import REPORTS_DIR
from ml.cli.markdown import audit_markdown
from ml.data.duplicates import contact_sheet, run_audit


def write_reports(
    records: list[dict[str, Any]], summary: dict[str, Any], data_dir: Path, out: Path
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    leak_free = summary.pop("_leak_free_paths")
    groups = summary.pop("_groups")
    (out / "leak_free_test.txt").write_text("\n".join(leak_free) + "\n", encoding="utf-8")
    payload = {**summary, "groups": groups}
    (out / "audit.json").write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    contact_sheet(records, data_dir, out / "near_dup_pairs.png")
    (out / "AUDIT.md").write_text(audit_markdown(summary), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--out", type=Path, default=REPORTS_DIR)
    args = parser.parse_args(argv)
    records, summary = run_audit(args.data_dir)
    write_reports(records, summary, args.data_dir, args.out)
    lf = summary["leak_free_test"]
    print(f"audited {summary['images']} images; leak-free test subset {lf['count']}/{lf['of']}")
    print(f"reports in {args.out}")


if __name__ == "__main__":
    main()
