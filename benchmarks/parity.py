"""Record or check what ``classify`` and ``suggest_partners`` return on every corpus project.

A restructuring must not change behaviour. Run ``--record`` before it and ``--check`` after:
the check compares objectives, probabilities (to ``--atol``, default 1e-6), selected labels,
activity and similar-project rankings, scope, evidence and partner rankings (ids in order,
scores to the same tolerance) for every project text (Finnish, English and each description's
own language), with and without partner options.

    python benchmarks/parity.py --record   # writes benchmarks/results/parity_baseline.json
    python benchmarks/parity.py --check    # exit 1 and a list of differences if any
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

BASELINE = Path(__file__).parent / "results" / "parity_baseline.json"

#: Partner queries beyond the plain one: every option that changes the ranking.
PARTNER_OPTIONS: list[dict[str, Any]] = [
    {},
    {"complement": True, "applicant": "Maahanmuuttovirasto"},
    {"org_types": ["ngo", "municipality"], "newcomers": False},
    {"region": "Uusimaa", "consortium": ["Helsingin kaupunki"]},
]


def _classification(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "objective": result["objective"],
        "objectives": {o["code"]: [o["probability"], o["selected"]] for o in result["objectives"]},
        "target_groups": [
            [t["code"], t["probability"], t["selected"]] for t in result["target_groups"]
        ],
        "activities": [[a["code"], a["score"]] for a in result["activities"]],
        "similar_projects": [[p["id"], p["score"]] for p in result["similar_projects"]],
        "evidence": [[e["text"], e["supports"], e["score"]] for e in result["evidence"]],
        "in_scope": result["in_scope"],
        "scope_score": result["scope_score"],
        "language": result["language"],
    }


def record() -> dict[str, Any]:
    """Classify every corpus project text and suggest partners for it."""
    from amif_match.matcher import Matcher

    matcher = Matcher.default()
    projects = matcher.corpus_.projects
    texts: dict[str, str] = {}
    for row in projects.itertuples():
        if row.description_fi:
            texts[f"{row.id}/fi"] = row.description_fi
        if row.summary_en:
            texts[f"{row.id}/en"] = row.summary_en
        if getattr(row, "description", ""):
            texts[f"{row.id}/{row.language or 'xx'}"] = row.description
    out: dict[str, Any] = {"classify": {}, "partners": {}}
    for key, text in texts.items():
        out["classify"][key] = _classification(matcher.classify(text, k=10).to_dict())
    for key, text in list(texts.items())[::4]:  # every 4th text: partners are slower to explain
        for i, options in enumerate(PARTNER_OPTIONS):
            frame = matcher.suggest_partners(text, k=10, **options)
            out["partners"][f"{key}#{i}"] = [[r.id, float(r.score)] for r in frame.itertuples()]
    return out


def _compare(old: Any, new: Any, path: str, atol: float, problems: list[str]) -> None:
    if isinstance(old, float) and isinstance(new, (float, int)):
        if abs(old - new) > atol:
            problems.append(f"{path}: {old} -> {new}")
    elif isinstance(old, dict) and isinstance(new, dict):
        if old.keys() != new.keys():
            problems.append(f"{path}: keys {sorted(old)} -> {sorted(new)}")
        for key in old.keys() & new.keys():
            _compare(old[key], new[key], f"{path}.{key}", atol, problems)
    elif isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            problems.append(f"{path}: {len(old)} items -> {len(new)}")
        for i, (a, b) in enumerate(zip(old, new, strict=False)):
            _compare(a, b, f"{path}[{i}]", atol, problems)
    elif old != new:
        problems.append(f"{path}: {old!r} -> {new!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--record", action="store_true", help=f"write {BASELINE.name}")
    mode.add_argument("--check", action="store_true", help="compare with the recorded outputs")
    parser.add_argument("--atol", type=float, default=1e-6)
    parser.add_argument("--baseline", type=Path, default=BASELINE)
    args = parser.parse_args(argv)
    outputs = record()
    if args.record:
        args.baseline.parent.mkdir(parents=True, exist_ok=True)
        args.baseline.write_text(json.dumps(outputs, ensure_ascii=False, indent=1), "utf-8")
        print(
            f"recorded {len(outputs['classify'])} classifications and "
            f"{len(outputs['partners'])} partner rankings in {args.baseline}"
        )
        return 0
    baseline = json.loads(args.baseline.read_text("utf-8"))
    problems: list[str] = []
    _compare(baseline, outputs, "outputs", args.atol, problems)
    for line in problems[:50]:
        print(line)
    print(
        f"{len(outputs['classify'])} classifications, {len(outputs['partners'])} partner "
        f"rankings: {'identical' if not problems else f'{len(problems)} differences'} "
        f"(atol {args.atol})"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
