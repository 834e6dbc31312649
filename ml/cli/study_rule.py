"""Choose and calibrate the study rule (ml/study.py) on pseudo-studies, report it, and put it
on the model card:

    python -m ml.cli.study_rule --model ml/artifacts/brainscan.keras --data KAGGLE_DIR --update-card

Pseudo-studies from ../shared/datasets/external (read its README): every IXI person's slices
ordered by `z_index` (6 mm apart, skull base to vertex) are a normal study; every BraTS/TCGA
patient's slices are a tumour study, one series per sequence ordered by `z_index`, every
second slice kept so they are 6 mm apart like IXI's and like the 5 mm of our reformats
(tumour slices only: the set has no others). Each slice goes through `Engine.analyze_batch`
as the study worker sends it (the input gate enforced; rejected slices are left out).

IXI people are split as in training (ml.data.sources.split_people): the rule's threshold is
set on the VALIDATION people, reported on the TEST people; the TRAIN people, whose slices the
model was fitted on, are reported apart and never used. BraTS/TCGA was never trained on;
with 8 patients it chooses k and is reported at once, so its figure is optimistic (said in
the report).

Candidates: k = 1..4 (the highest, over runs of k neighbouring slices, of the lowest tumour
probability in the run) and, for comparison, a noisy-OR. For each k the medium threshold is
the lowest value, not below the card's slice threshold, at which at most MAX_NORMAL_FLAGGED
of the IXI validation studies reach it; k is then the one that flags most BraTS series,
ties to the smaller k. High is the card's slice high threshold (or medium, if higher).
Writes ml/reports/STUDY-RULE.md and study_rule.json; --update-card adds `study_rule` to the
card (the .keras file is untouched) and re-renders ml/MODEL_CARD.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ml.artifacts import CARD_FILE, DEFAULT_MODEL, MODEL_CARD_MD, REPORTS_DIR
from ml.card import read_card, write_card
from ml.cli.markdown import interval_cell, table
from ml.data.sources import BRATS_DIR, IXI_DIR, default_external, ixi_items, split_people
from ml.study import CARD_KEY, SliceResult, StudyRule, noisy_or

KS = (1, 2, 3, 4)
MAX_NORMAL_FLAGGED = 0.05
BATCH = 32
GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)


@dataclass
class PseudoStudy:
    source: str  # "ixi" or "brats"
    person: str
    part: str  # IXI: train / validation / test; BraTS: external
    series: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # name -> (z, path)
    results: dict[str, list[SliceResult]] = field(default_factory=dict)

    def slice_results(self) -> list[SliceResult]:
        return [r for name in sorted(self.results) for r in self.results[name]]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument(
        "--data", type=Path, required=True, help="the Kaggle directory (for ../external)"
    )
    p.add_argument("--external", type=Path, default=None)
    p.add_argument("--out", type=Path, default=REPORTS_DIR)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--brats-step", type=int, default=2, help="keep every n-th BraTS slice")
    p.add_argument("--update-card", action="store_true")
    return p.parse_args(argv)


def pseudo_studies(external: Path, brats_step: int) -> list[PseudoStudy]:
    """IXI people and BraTS/TCGA patients, their slices ordered along the head."""
    part_of = {}
    for part, items in split_people(ixi_items(external)).items():
        part_of.update({item.person: part for item in items})
    studies: dict[tuple[str, str], PseudoStudy] = {}
    for row in _manifest(external / IXI_DIR):
        person = row["patient_id"]
        study = studies.setdefault(("ixi", person), PseudoStudy("ixi", person, part_of[person]))
        study.series.setdefault("T1", []).append(
            (int(row["z_index"]), str(external / IXI_DIR / row["file"]))
        )
    for row in _manifest(external / BRATS_DIR):
        person = row["patient_id"]
        study = studies.setdefault(("brats", person), PseudoStudy("brats", person, "external"))
        path = str(external / BRATS_DIR / row["file"])
        study.series.setdefault(row["sequence"], []).append((int(row["z_index"]), path))
    for study in studies.values():
        for name, rows in study.series.items():
            rows.sort()
            if study.source == "brats":
                study.series[name] = rows[::brats_step]
    return sorted(studies.values(), key=lambda s: (s.source, s.person))


def _manifest(folder: Path) -> list[dict[str, str]]:
    with (folder / "manifest.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def analyse(studies: list[PseudoStudy], engine) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Every slice through the engine as the study worker does; returns gate pass rates."""
    passed: dict[str, list[bool]] = defaultdict(list)
    for number, study in enumerate(studies, start=1):
        for series_number, (name, rows) in enumerate(sorted(study.series.items())):
            results = []
            for start in range(0, len(rows), BATCH):
                chunk = rows[start : start + BATCH]
                images = [Path(path).read_bytes() for _, path in chunk]
                for offset, analysis in enumerate(engine.analyze_batch(images, explain=False)):
                    results.append(
                        SliceResult(
                            index=start + offset,
                            series=series_number,
                            tumour_probability=analysis.tumour_probability
                            if analysis.accepted
                            else None,
                            probabilities=analysis.probabilities,
                        )
                    )
                    passed[study.source].append(analysis.accepted)
            study.results[name] = results
        if number % 25 == 0:
            print(f"  {number} of {len(studies)} pseudo-studies analysed", flush=True)
    return {source: float(np.mean(flags)) for source, flags in passed.items()}


def score(study: PseudoStudy, k: int | None) -> float:
    """The study score under run length k (None: noisy-OR); 0 when no slice was analysed."""
    results = study.slice_results()
    if k is None:
        return noisy_or([r.tumour_probability for r in results if r.tumour_probability is not None])
    outcome = StudyRule(k, {"medium": 1.0, "high": 1.0}).apply(results)
    return outcome.tumour_probability or 0.0


def series_scores(study: PseudoStudy, k: int) -> dict[str, float]:
    rule = StudyRule(k, {"medium": 1.0, "high": 1.0})
    return {
        name: rule.apply(results).tumour_probability or 0.0
        for name, results in study.results.items()
    }


def choose(studies: list[PseudoStudy], floor: float) -> dict[str, Any]:
    """Each k's medium threshold from the IXI validation people, then the k that finds most."""
    validation = [s for s in studies if s.source == "ixi" and s.part == "validation"]
    brats = [s for s in studies if s.source == "brats"]
    candidates: list[dict[str, Any]] = []
    for k in KS:
        normal = np.array([score(s, k) for s in validation])
        threshold = next(
            (float(t) for t in GRID if t >= floor and np.mean(normal >= t) <= MAX_NORMAL_FLAGGED),
            1.0,
        )
        series = [v for s in brats for v in series_scores(s, k).values()]
        held_out = [s for s in studies if s.source == "ixi" and s.part in ("validation", "test")]
        at_floor = StudyRule(k, {"medium": floor, "high": 1.0})
        flags = [
            _z_of(s, o.driving)
            for s in held_out
            if (o := at_floor.apply(s.slice_results())).risk != "low"
        ]
        candidates.append(
            {
                "k": k,
                "held_out_ixi_flagged_at_floor": round(len(flags) / len(held_out), 4),
                "held_out_ixi_flag_z_at_floor": sorted(flags),
                "medium": threshold,
                "validation_flagged": float(np.mean(normal >= threshold)),
                "brats_series_found": float(np.mean(np.array(series) >= threshold)),
                "brats_patients_found": float(np.mean([score(s, k) >= threshold for s in brats])),
            }
        )
    best = max(
        candidates, key=lambda c: (c["brats_series_found"], c["brats_patients_found"], -c["k"])
    )
    return {"candidates": candidates, "chosen": best}


def wilson(found: int, n: int) -> list[float]:
    """95 % Wilson interval of a proportion."""
    if n == 0:
        return [0.0, 1.0]
    z, p = 1.959964, found / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def results_by_part(studies: list[PseudoStudy], rule: StudyRule) -> dict[str, dict[str, Any]]:
    """Per source and part: studies flagged at medium and high, with intervals; for IXI the
    z of the slices that flag a normal study (low z = skull base)."""
    parts: dict[str, list[PseudoStudy]] = defaultdict(list)
    for s in studies:
        parts[f"{s.source}_{s.part}"].append(s)
    out = {}
    for name, members in sorted(parts.items()):
        outcomes = [rule.apply(s.slice_results()) for s in members]
        medium = sum(o.risk in ("medium", "high") for o in outcomes)
        high = sum(o.risk == "high" for o in outcomes)
        row = {
            "studies": len(members),
            "slices": sum(len(r) for s in members for r in s.results.values()),
            "flagged_medium_or_high": medium,
            "flagged_rate": round(medium / len(members), 4),
            "flagged_ci95": wilson(medium, len(members)),
            "high": high,
            "median_score": round(
                float(np.median([o.tumour_probability or 0 for o in outcomes])), 4
            ),
        }
        if name.startswith("ixi"):
            row["flagged_at_z_index"] = sorted(
                _z_of(s, o.driving)
                for s, o in zip(members, outcomes, strict=True)
                if o.risk in ("medium", "high")
            )
        if name.startswith("brats"):
            per_sequence: dict[str, list[bool]] = defaultdict(list)
            for s in members:
                for sequence, value in series_scores(s, rule.k).items():
                    per_sequence[sequence].append(value >= rule.thresholds["medium"])
            row["series_found_by_sequence"] = {
                q: f"{sum(v)} of {len(v)}" for q, v in sorted(per_sequence.items())
            }
            row["patients_found"] = {
                s.person: o.risk for s, o in zip(members, outcomes, strict=True)
            }
        out[name] = row
    return out


def _z_of(study: PseudoStudy, driving: list[int]) -> int:
    rows = study.series["T1"]
    return rows[driving[0]][0] if driving else -1


def report_markdown(result: dict[str, Any]) -> str:
    chosen = result["rule"]
    parts = result["results"]
    names = {
        "ixi_test": "IXI healthy adults, test people (never trained on; same site as training)",
        "ixi_validation": "IXI healthy adults, validation people (set the threshold)",
        "ixi_train": "IXI healthy adults, TRAIN people (the model was fitted on their slices)",
        "brats_external": "BraTS 2013 / TCGA gliomas (never trained on; chose k)",
    }
    rows = [
        [
            names.get(name, name),
            str(r["studies"]),
            str(r["slices"]),
            interval_cell({"value": r["flagged_rate"], "ci95": r["flagged_ci95"]}),
            str(r["high"]),
            f"{r['median_score']:.3f}",
        ]
        for name, r in parts.items()
    ]
    candidates = [
        [
            "noisy-OR" if c["k"] is None else f"k = {c['k']}",
            f"{c['medium']:.2f}",
            f"{100 * c['validation_flagged']:.1f} %",
            f"{100 * c['brats_series_found']:.1f} %",
            f"{100 * c['brats_patients_found']:.1f} %",
            _floor_cell(c),
        ]
        for c in result["candidates"]
    ]
    brats = parts.get("brats_external", {})
    ixi_test = parts.get("ixi_test", {})
    return f"""# Study rule

Written by `{result["command"]}` on {result["model_version"]} (SHA-256 `{result["model_sha256"][:12]}…`).

**Rule**: {result["description"]}

The study's tumour probability is the highest, over every run of **k = {chosen["k"]}**
neighbouring analysed slices of a series, of the lowest tumour probability in the run; a
study takes its most suspicious series. A study is therefore never "no tumour" because most
of its slices are normal: {chosen["k"]} neighbouring suspicious slices are enough. Slices the
input gate rejects are left out. Risk: medium from **{chosen["thresholds"]["medium"]:.2f}**, high
from **{chosen["thresholds"]["high"]:.2f}**; below medium the study is "no tumour".

## Pseudo-studies

- Normal: each IXI person's slices ordered by `z_index` (6 mm apart, skull base to vertex),
  one series. Gate pass rate {100 * result["gate_pass"].get("ixi", 0):.1f} %.
- Tumour: each BraTS/TCGA patient, one series per sequence ordered by `z_index`, every
  {result["brats_step"]}nd slice kept (6 mm apart). Gate pass rate {100 * result["gate_pass"].get("brats", 0):.1f} %.
  These sets hold **tumour slices only**: a real study has normal slices around the tumour,
  which a max-type rule does not dilute but which add chances of a false run; IXI measures those.

## Results (flagged = study risk medium or high; 95 % Wilson intervals over studies)

{table(["pseudo-studies", "studies", "slices", "flagged", "high", "median study score"], rows)}

IXI test people flagged at z_index {ixi_test.get("flagged_at_z_index", [])} (low values are the skull base).
BraTS/TCGA series found by sequence: {brats.get("series_found_by_sequence", {})}; by patient:
{brats.get("patients_found", {})}.

## Choosing k

For each k the medium threshold is the lowest value (not below the card's slice threshold
{result["slice_thresholds"]["medium"]:.2f}) at which at most {100 * MAX_NORMAL_FLAGGED:.0f} % of the IXI validation
studies reach it; k is the one that then finds most BraTS/TCGA series (ties: smaller k).

{table(["rule", "medium threshold", "IXI validation flagged", "BraTS series found", "BraTS patients found", f"IXI validation + test flagged at {result['slice_thresholds']['medium']:.2f} (z_index of the flagging slice)"], candidates)}

IXI z_index counts 2 mm voxels from the bottom of the volume; the slices here run from
z_index {result["ixi_z_range"][0]} (skull base) to {result["ixi_z_range"][1]} (vertex). The
last column says where single normal slices reach the slice threshold: one such slice
flags a study under k = 1, and no rule that does so is usable, whichever end of the head
it is at; k >= 2 asks for a neighbour that agrees.

## What this does not show

- **Specificity at another hospital.** The IXI people are new, but their scanner is the one
  the model trained on. Trained without IXI, the same recipe called only 73 % of IXI slices
  "no tumour" at low risk (ml/reports/TRANSFER-ixi.md): with ~18 slices per study, a
  max-type rule at another site would flag far more normal studies than here. Rerun this
  command with `--model var/transfer/ixi/brainscan.keras` after `make evaluate-transfer`
  to measure it for a model that has never seen IXI.
- **Sensitivity on real studies.** 8 glioma patients, skull-stripped, tumour slices only, and
  the same patients chose k: the BraTS figure is optimistic and its interval wide. No
  meningioma or pituitary studies exist here at all.
- The study probability is a slice probability (the lowest in the most suspicious run), not
  a calibrated probability that the patient has a tumour.
"""


def _floor_cell(candidate: dict[str, Any]) -> str:
    if candidate.get("held_out_ixi_flagged_at_floor") is None:
        return "–"
    z = candidate["held_out_ixi_flag_z_at_floor"]
    return f"{100 * candidate['held_out_ixi_flagged_at_floor']:.1f} % ({', '.join(map(str, z)) or 'none'})"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from ml.serving.engine import Engine

    args = parse_args(argv)
    external = args.external or default_external(args.data)
    engine = Engine.load(args.model, threads=args.threads)
    studies = pseudo_studies(external, args.brats_step)
    print(
        f"{len(studies)} pseudo-studies, {sum(len(r) for s in studies for r in s.series.values())} slices",
        flush=True,
    )
    gate_pass = analyse(studies, engine)
    slice_thresholds = engine.card.risk_thresholds
    choice = choose(studies, slice_thresholds["medium"])
    chosen = choice["chosen"]
    thresholds = {
        "medium": chosen["medium"],
        "high": max(chosen["medium"], slice_thresholds["high"]),
    }
    rule = StudyRule(chosen["k"], thresholds, calibrated=True)
    noisy = [float(score(s, None)) for s in studies if s.source == "ixi" and s.part == "validation"]
    candidates = [
        *choice["candidates"],
        {
            "k": None,
            "medium": thresholds["medium"],
            "validation_flagged": float(np.mean(np.array(noisy) >= thresholds["medium"])),
            "brats_series_found": float(
                np.mean([noisy_or([r.tumour_probability for r in res if r.tumour_probability is not None]) >= thresholds["medium"]
                         for s in studies if s.source == "brats" for res in s.results.values()])
            ),
            "brats_patients_found": float(
                np.mean([score(s, None) >= thresholds["medium"] for s in studies if s.source == "brats"])
            ),
        },
    ]  # fmt: skip
    command = "python -m ml.cli.study_rule --model " + str(args.model) + " --data " + str(args.data)
    result = {
        "command": command + (" --update-card" if args.update_card else ""),
        "model_version": engine.version,
        "model_sha256": engine.sha256,
        "rule": {"k": rule.k, "thresholds": thresholds},
        "description": rule.describe(),
        "slice_thresholds": slice_thresholds,
        "brats_step": args.brats_step,
        "gate_pass": gate_pass,
        "ixi_z_range": [
            min(z for s in studies if s.source == "ixi" for z, _ in s.series["T1"]),
            max(z for s in studies if s.source == "ixi" for z, _ in s.series["T1"]),
        ],
        "candidates": candidates,
        "results": results_by_part(studies, rule),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "study_rule.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    (args.out / "STUDY-RULE.md").write_text(report_markdown(result), encoding="utf-8")
    print(report_markdown(result))
    if args.update_card:
        update_card(args.model, result)
    return result


def update_card(model: Path, result: dict[str, Any]) -> None:
    """`study_rule` into the card next to the model (read by StudyRule.from_card)."""
    from ml.cli.evaluate import write_model_card_md

    card_path = model.with_name(CARD_FILE)
    card = read_card(card_path)
    card[CARD_KEY] = {
        "k": result["rule"]["k"],
        "thresholds": result["rule"]["thresholds"],
        "description": result["description"],
        "chosen_on": "IXI validation people (threshold) and BraTS/TCGA series (k)",
        "results": {
            name: {key: r[key] for key in ("studies", "flagged_rate", "flagged_ci95", "high")}
            for name, r in result["results"].items()
        },
        "command": result["command"],
    }
    write_card(card_path, card)
    if model.resolve().parent == DEFAULT_MODEL.resolve().parent:
        write_model_card_md(card_path, REPORTS_DIR / "comparison.json", MODEL_CARD_MD)


if __name__ == "__main__":
    main()
