"""Evaluate the exported model + gate on every source apart:

    python -m ml.evaluate_sources --model ml/artifacts/brainscan.keras --data KAGGLE_DIR

Sources: the Kaggle official Testing split, its leak-free subset, the IXI people of the
person split's test part, and every BraTS/TCGA glioma (never trained on). Each goes through
`Engine.analyze` exactly as an upload does. Per source: gate pass rate, and accuracy,
tumour sensitivity / specificity at both risk thresholds and ECE, of what was analysed and
of the model alone, with 95 % intervals over people (ml/metrics/sources.py). Then the
robustness table (DISPLAY_CHANGES of ml/image/augment.py on a seeded subset of every source:
label agreement with the unchanged slice and gate pass rate), and Grad-CAM on the BraTS
masks (heatmap mass inside the tumour, pointing game). Writes sources.json and SOURCES.md.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from ml import CLASS_NAMES
from ml.artifacts import CARD_FILE, DEFAULT_MODEL, MODEL_CARD_MD, REPORTS_DIR, SPLITS_FILE
from ml.card import read_card, write_card
from ml.cli.markdown import interval_cell, table
from ml.data.sources import (
    BRATS_DIR,
    Item,
    brats_items,
    default_external,
    ixi_items,
    kaggle_items,
    split_people,
)
from ml.image.augment import DISPLAY_CHANGES
from ml.image.decode import decode_image
from ml.metrics.sources import cluster_bootstrap_ci, source_metrics

if TYPE_CHECKING:  # imported in evaluate(): TensorFlow loads only when a model is used
    from ml.serving.engine import Engine

REPORTS = REPORTS_DIR
SOURCE_NAMES = {
    "test": "Kaggle official Testing split",
    "test_leak_free": "Kaggle leak-free Testing subset",
    "ixi_test": "IXI healthy adults, test people of the person split",
    "ixi_all": "IXI healthy adults, every person (source left out of training)",
    "brats": "BraTS 2013 / TCGA gliomas, skull-stripped (other hospitals)",
}
POINTING_DILATION_PX = 5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--external", type=Path, default=None, help="default: beside --data")
    p.add_argument("--leak-free", type=Path, default=REPORTS / "leak_free_test.txt")
    p.add_argument("--audit-json", type=Path, default=REPORTS / "audit.json")
    p.add_argument("--out", type=Path, default=REPORTS)
    p.add_argument("--bootstrap", type=int, default=1000)
    p.add_argument("--robustness-per-source", type=int, default=150, help="0: no robustness table")
    p.add_argument(
        "--ixi-people",
        choices=("test", "all"),
        default="test",
        help="all: every IXI person, for a model trained without IXI (make evaluate-transfer)",
    )
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument(
        "--update-card",
        action="store_true",
        help="copy the per-source results into model_card.json and re-render ml/MODEL_CARD.md",
    )
    return p.parse_args(argv)


def source_items(args: argparse.Namespace) -> dict[str, list[Item]]:
    """The items of every source; refuses to test on anything the model was trained on."""
    from ml.data.duplicates import load_groups
    from ml.data.samples import list_samples

    group_of = load_groups(args.audit_json) if args.audit_json.exists() else {}
    test = [(s.relpath, s.label) for s in list_samples(args.data) if s.split == "Testing"]
    kaggle = kaggle_items(args.data, test, group_of)
    leak_free = set(args.leak_free.read_text(encoding="utf-8").split())
    external = args.external or default_external(args.data)
    items = {
        "test": kaggle,
        "test_leak_free": [i for i in kaggle if i.key in leak_free],
        **_ixi(ixi_items(external), args.ixi_people),
        "brats": brats_items(external),
    }
    refuse_trained_on(items, args.model.with_name(SPLITS_FILE))
    return items


def refuse_trained_on(items: dict[str, list[Item]], splits: Path) -> None:
    """Stop if any test image is in the model's train or validation split."""
    if not splits.exists():
        return
    seen = {k for part in json.loads(splits.read_text()).values() for k in part}
    for name, part in items.items():
        overlap = [i.key for i in part if i.key in seen]
        if overlap:
            raise SystemExit(f"{name}: {len(overlap)} images were trained on ({overlap[0]})")


def ixi_people_trained_on(splits: Path, external: Path) -> int:
    """How many IXI people the model's train split holds (0 for a model without IXI)."""
    if not splits.exists():
        return 0
    seen = set(json.loads(splits.read_text()).get("train", []))
    return len({i.person for i in ixi_items(external) if i.key in seen})


def source_description(name: str, ixi_trained_people: int) -> str:
    """The row name; IXI test people are the training site's, when the model trained on IXI."""
    if name == "ixi_test" and ixi_trained_people:
        return (
            "IXI healthy adults, test people "
            f"(same site as the {ixi_trained_people} IXI people trained on)"
        )
    return SOURCE_NAMES[name]


def _ixi(items: list[Item], people: str) -> dict[str, list[Item]]:
    """The IXI test people of the person split, or every person (the splits.json check in
    source_items then proves the model never saw any of them)."""
    return {"ixi_all": items} if people == "all" else {"ixi_test": split_people(items)["test"]}


def run_source(engine: Engine, items: list[Item], *, explain: bool) -> dict[str, Any]:
    """Analyse every item (gate recorded, not enforced): arrays for the metrics."""
    probs: list[list[float]] = []
    accepted: list[bool] = []
    unfamiliar: list[bool] = []
    heatmaps: list[np.ndarray] = []
    for item in items:
        a = engine.analyze(item.path.read_bytes(), explain=explain, enforce_gate=False)
        probs.append([a.probabilities[c] for c in engine.card.class_names])
        accepted.append(a.accepted)
        unfamiliar.append(a.unfamiliar)
        if explain:
            png = a.heatmap_png
            heat = None if png is None else cv2.imdecode(np.frombuffer(png, np.uint8), 0)
            if heat is None:  # explained with the gate not enforced: always a PNG
                raise ValueError(f"no readable heatmap for {item.key}")
            heatmaps.append(heat)
    return {
        "probs": np.array(probs),
        "accepted": np.array(accepted),
        "unfamiliar": np.array(unfamiliar),
        "heatmaps": heatmaps,
    }


def gradcam_scores(
    items: list[Item], heatmaps: list[np.ndarray], external: Path, n_boot: int
) -> dict[str, dict[str, Any]]:
    """Share of heatmap mass inside the tumour mask, and the pointing game (the hottest
    pixel inside the mask dilated by POINTING_DILATION_PX), per slice; means over slices
    with intervals over patients."""
    kernel = np.ones((2 * POINTING_DILATION_PX + 1,) * 2, np.uint8)
    mass: list[float] = []
    hit: list[bool] = []
    for item, heat in zip(items, heatmaps, strict=True):
        mask_path = external / BRATS_DIR / "masks" / item.path.name
        tumour = cv2.imread(str(mask_path), 0)
        if tumour is None:
            raise FileNotFoundError(f"no readable tumour mask at {mask_path}")
        mask = tumour > 0
        h = heat.astype(np.float64)
        mass.append(float(h[mask].sum() / h.sum()) if h.sum() > 0 else 0.0)
        peak = np.unravel_index(int(np.argmax(h)), h.shape)
        hit.append(bool(cv2.dilate(mask.astype(np.uint8), kernel)[peak]))
    mass_a, hit_a = np.array(mass), np.array(hit, dtype=float)

    def stat(idx: np.ndarray) -> dict[str, float]:
        return {"mass_inside_tumour": mass_a[idx].mean(), "pointing_hit": hit_a[idx].mean()}

    ci = cluster_bootstrap_ci(stat, [i.person for i in items], n_resamples=n_boot)
    return {
        k: {"value": float(v), "ci95": list(ci[k])} for k, v in stat(np.arange(len(items))).items()
    }


def robustness(engine: Engine, items: dict[str, list[Item]], per_source: int) -> dict[str, Any]:
    """Label agreement with the unchanged slice, and gate pass rate, under each change."""
    rng = np.random.default_rng(0)
    table: dict[str, dict[str, Any]] = {}
    for name in ("test", "ixi_test", "ixi_all", "brats"):
        pool = items.get(name)
        if not pool or per_source <= 0:
            continue
        chosen = [
            pool[i]
            for i in sorted(rng.choice(len(pool), min(per_source, len(pool)), replace=False))
        ]
        grays = [decode_image(i.path.read_bytes()) for i in chosen]
        base = [engine.analyze(g, explain=False, enforce_gate=False) for g in grays]
        rows = {"unchanged": {"agreement": 1.0, "gate_pass": _mean(a.accepted for a in base)}}
        for change, fn in DISPLAY_CHANGES.items():
            out = [engine.analyze(fn(g), explain=False, enforce_gate=False) for g in grays]
            rows[change] = {
                "agreement": _mean(a.label == b.label for a, b in zip(out, base, strict=True)),
                "gate_pass": _mean(a.accepted for a in out),
            }
        table[name] = {"n": len(chosen), "rows": rows}
    return table


def _mean(flags: Iterable[bool] | np.ndarray) -> float:
    values = list(flags)
    return float(np.mean(values)) if values else float("nan")


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    from ml.serving.engine import Engine

    engine = Engine.load(args.model, threads=args.threads)
    items = source_items(args)
    ixi_trained = ixi_people_trained_on(
        args.model.with_name(SPLITS_FILE), args.external or default_external(args.data)
    )
    normal = engine.card.normal_index
    thresholds = engine.card.risk_thresholds
    result: dict[str, Any] = {
        "model": engine.version,
        "sha256": engine.sha256,
        "risk_thresholds": thresholds,
        "bootstrap_resamples": args.bootstrap,
        "sources": {},
    }
    runs: dict[str, dict[str, Any]] = {}
    for name, part in items.items():
        if name == "test_leak_free":
            keys = {i.key for i in part}
            mask = np.array([i.key in keys for i in items["test"]])
            run = {k: v[mask] for k, v in runs["test"].items() if k != "heatmaps"}
        else:
            run = run_source(engine, part, explain=name == "brats")
        runs[name] = run
        y = np.array([i.label for i in part])
        metrics = source_metrics(
            y, run["probs"], run["accepted"], [i.person for i in part], thresholds, normal,
            n_resamples=args.bootstrap,
        )  # fmt: skip
        metrics["unfamiliar_share_of_analysed"] = _mean(run["unfamiliar"][run["accepted"]])
        metrics["called_glioma"] = _mean(run["probs"].argmax(1) == CLASS_NAMES.index("glioma"))
        metrics["description"] = source_description(name, ixi_trained)
        result["sources"][name] = metrics
    external = args.external or default_external(args.data)
    result["gradcam_brats"] = gradcam_scores(
        items["brats"], runs["brats"]["heatmaps"], external, args.bootstrap
    )
    result["robustness"] = robustness(engine, items, args.robustness_per_source)
    return result


def markdown(r: dict[str, Any], command: str) -> str:
    lines = [
        "# Evaluation by source",
        "",
        f"Model `{r['model']}` (SHA-256 `{r['sha256'][:16]}...`), produced by `{command}`. "
        "95 % intervals: bootstrap over people (Kaggle: its near-duplicate groups), "
        f"{r['bootstrap_resamples']} resamples. Risk thresholds: medium "
        f"{r['risk_thresholds']['medium']:.3f}, high {r['risk_thresholds']['high']:.3f}. "
        "There is no external meningioma or pituitary data: external rows test glioma "
        "and no tumour only.",
        "",
        "## Gate and analysed slices",
        "",
        table(
            [
                "source",
                "slices",
                "people",
                "passes gate",
                "accuracy (analysed)",
                "tumour found, risk ≥ medium",
                "called no tumour (normals)",
                "ECE",
            ],
            [
                [
                    s["description"],
                    s["slices"],
                    s["people"],
                    interval_cell(s["gate_pass"]),
                    interval_cell(s["analysed_metrics"]["accuracy"]),
                    interval_cell(s["analysed_metrics"]["tumour_sensitivity_medium"]),
                    interval_cell(s["analysed_metrics"]["specificity_medium"]),
                    interval_cell(s["analysed_metrics"]["ece"]),
                ]
                for s in r["sources"].values()
            ],
            "lrrrrrrr",
        ),
        "",
        "## The model alone (every slice, as if the gate had passed it)",
        "",
        table(
            [
                "source",
                "accuracy",
                "tumour found, risk ≥ medium",
                "tumour found, risk high",
                "no tumour, risk low",
                "called glioma",
                "ECE",
            ],
            [
                [
                    s["description"],
                    interval_cell(s["model_alone"]["accuracy"]),
                    interval_cell(s["model_alone"]["tumour_sensitivity_medium"]),
                    interval_cell(s["model_alone"]["tumour_sensitivity_high"]),
                    interval_cell(s["model_alone"]["specificity_medium"]),
                    f"{100 * s['called_glioma']:.1f} %",
                    interval_cell(s["model_alone"]["ece"]),
                ]
                for s in r["sources"].values()
            ],
            "lrrrrrr",
        ),
    ]
    g = r["gradcam_brats"]
    lines += [
        "",
        "## Grad-CAM on the BraTS/TCGA tumour masks",
        "",
        f"Heatmap of the most probable tumour class. Mass inside the tumour mask: "
        f"{interval_cell(g['mass_inside_tumour'])}; pointing game (hottest pixel inside the mask "
        f"dilated by {POINTING_DILATION_PX} px): {interval_cell(g['pointing_hit'])}.",
        "",
        "## Robustness to display changes",
        "",
        "Label agreement with the unchanged slice / gate pass rate, on a seeded subset.",
        "",
    ]
    names = list(r["robustness"])
    if not names:
        return "\n".join(lines + ["Not measured in this run."]) + "\n"
    header = ["change", *(f"{n} (n={r['robustness'][n]['n']})" for n in names)]
    rows = [
        [change, *(_agreement_cell(r["robustness"][n]["rows"][change]) for n in names)]
        for change in r["robustness"][names[0]]["rows"]
    ]
    lines.append(table(header, rows, "l" + "r" * len(names)))
    return "\n".join(lines) + "\n"


def _agreement_cell(row: dict[str, Any]) -> str:
    return f"{100 * row['agreement']:.1f} % / {100 * row['gate_pass']:.1f} %"


def update_card(model: Path, result: dict[str, Any]) -> None:
    """Per-source metrics, robustness and Grad-CAM scores into the card (the .keras file is
    untouched, so the card's SHA-256 stays valid); then the Markdown card again."""
    from ml.cli.evaluate import write_model_card_md

    card_path = model.with_name(CARD_FILE)
    card = read_card(card_path)
    card.setdefault("metrics", {})["sources"] = result["sources"]
    card["robustness"] = result["robustness"]
    card["gradcam_brats"] = result["gradcam_brats"]
    write_card(card_path, card)
    write_model_card_md(card_path, REPORTS / "comparison.json", MODEL_CARD_MD)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    result = evaluate(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sources.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    command = f"python -m ml.evaluate_sources --model {args.model} --data {args.data}"
    if args.ixi_people == "all":
        command += " --ixi-people all"
    (args.out / "SOURCES.md").write_text(markdown(result, command), encoding="utf-8")
    if args.update_card:
        update_card(args.model, result)
    for name, s in result["sources"].items():
        m = s["model_alone"]
        print(
            f"{name}: gate {interval_cell(s['gate_pass'])}; alone acc {interval_cell(m['accuracy'])}, "
            f"sens@med {interval_cell(m['tumour_sensitivity_medium'])}, "
            f"spec@med {interval_cell(m['specificity_medium'])}",
            flush=True,
        )
    return result


if __name__ == "__main__":
    main()
