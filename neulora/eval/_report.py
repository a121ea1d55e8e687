"""The report of a replay: each variant's scores with intervals, and each against the base model.

Labels become numbers (``Yes`` 1, ``To some extent`` 0.5, ``No`` 0; for ``reveals_answer`` 1 is a
response that gives the answer away). A variant's mean per dimension has a 95% bootstrap interval
over dialogues; ``paired.<variant>_vs_base`` compares the cuts both answered, dialogue by
dialogue: the mean difference, its bootstrap interval and a paired permutation p-value (random
sign flips of the per-dialogue differences). A variant with more than 5% failures is ``valid:
false``, and the Markdown report says so before anything else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._scorer import REVEALS

if TYPE_CHECKING:
    from ._replay import Result

VALUES: Mapping[str, float] = {"Yes": 1.0, "To some extent": 0.5, "No": 0.0}
REPORTED: tuple[str, ...] = (
    "Mistake_Identification",
    "Mistake_Location",
    "Providing_Guidance",
    "Actionability",
    REVEALS,
)
MAX_FAILURES = 0.05
_RESAMPLES = 2000


def build_report(
    results: Sequence[Result],
    *,
    judge_agreement: Mapping[str, Any] | None = None,
    requested: Sequence[str] = (),
    setup: Mapping[str, Any] | None = None,
    dialogues: Mapping[str, str] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """``report.json``'s content from the results (see the module docstring).

    ``requested``: the variants asked for, each reported even with no result (``n`` 0, not valid:
    an ``oracle`` where the data never says what the human tutor did next). ``dialogues``: the
    dialogue each result's ``dialogue_id`` was cut from, where several cuts share one (every cut
    of a dialogue resamples together); an id it does not hold is its own dialogue.
    """
    by_variant: dict[str, list[Result]] = {name: [] for name in requested}
    for r in results:
        by_variant.setdefault(r.variant, []).append(r)
    values = {v: _values(rs, dialogues or {}) for v, rs in by_variant.items()}
    variants = {}
    for name, rs in by_variant.items():
        failures = sum(r.failed for r in rs)
        reasons: dict[str, int] = {}
        for r in rs:
            if r.error is not None:
                reason = r.error.split(":")[0]
                reasons[reason] = reasons.get(reason, 0) + 1
        judged = [r.scores["judge"] for r in rs if r.scores and "judge" in r.scores]
        judge_failures = sum(bool(verdict.get("failure")) for verdict in judged)
        variants[name] = {
            "n": len(rs),
            "failures": failures,
            "failure_reasons": reasons,
            "valid": bool(rs) and failures <= MAX_FAILURES * len(rs),
            **(
                {
                    "judged": len(judged),
                    "judge_failures": judge_failures,
                    "judge_valid": judge_failures <= MAX_FAILURES * len(judged),
                }
                if judged
                else {}
            ),
            "scores": {
                dim: _summary(per_dialogue, seed) for dim, per_dialogue in values[name].items()
            },
        }
    paired = {}
    if "base" in values:
        for name in values:
            if name == "base" or name.startswith("human:"):
                continue
            paired[f"{name}_vs_base"] = {
                dim: _paired(values[name].get(dim, {}), values["base"].get(dim, {}), seed)
                for dim in sorted(set(values[name]) & set(values["base"]), key=_order)
            }
    report: dict[str, Any] = {"setup": dict(setup or {}), "variants": variants, "paired": paired}
    if judge_agreement is not None:
        report["judge_agreement"] = dict(judge_agreement)
    return report


def _order(dimension: str) -> tuple[int, str]:
    base = dimension.removeprefix("judge:")
    rank = REPORTED.index(base) if base in REPORTED else len(REPORTED)
    return (dimension.startswith("judge:"), f"{rank:02d}{base}")


def _values(
    results: Sequence[Result], dialogues: Mapping[str, str]
) -> dict[str, dict[str, dict[str, float]]]:
    """Per dimension, per dialogue: the number of each of its scored cuts."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for r in results:
        if r.failed or not r.scores:
            continue
        dialogue = dialogues.get(r.dialogue_id, r.dialogue_id)
        for source, labels in _sources(r.scores):
            for dim, label in labels.items():
                if dim == "Revealing_of_the_Answer" and source == "judge":
                    # a judge answers MRBench's three-way question: any "Yes ..." gives it away
                    dim = REVEALS
                    label = "No" if label == "No" else "Yes"
                if dim not in REPORTED or label not in VALUES:
                    continue
                key = dim if source == "scorer" else f"judge:{dim}"
                out.setdefault(key, {}).setdefault(dialogue, {})[r.dialogue_id] = VALUES[label]
    return {k: out[k] for k in sorted(out, key=_order)}


def _sources(scores: Mapping[str, Any]) -> list[tuple[str, Mapping[str, str]]]:
    found = [("scorer", scores.get("scorer") or {})]
    judge = scores.get("judge")
    if isinstance(judge, Mapping) and not judge.get("failure"):
        found.append(("judge", judge.get("labels") or {}))
    return found


def _summary(per_dialogue: Mapping[str, Mapping[str, float]], seed: int) -> dict[str, Any]:
    means = np.asarray([np.mean(list(cuts.values())) for cuts in per_dialogue.values()])
    if means.size == 0:
        return {"mean": None, "ci95": None, "n": 0}
    rng = np.random.default_rng(seed)
    boot = rng.choice(means, size=(_RESAMPLES, means.size)).mean(axis=1)
    return {
        "mean": float(means.mean()),
        "ci95": [float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))],
        "n": int(means.size),
    }


def _paired(
    mine: Mapping[str, Mapping[str, float]], base: Mapping[str, Mapping[str, float]], seed: int
) -> dict[str, Any]:
    # per dialogue, the mean difference over the cuts both answered (a variant that skipped or
    # failed a cut is not compared with the base model's answer to another)
    diffs = []
    for dialogue in sorted(set(mine) & set(base)):
        cuts = sorted(set(mine[dialogue]) & set(base[dialogue]))
        if cuts:
            diffs.append(np.mean([mine[dialogue][c] - base[dialogue][c] for c in cuts]))
    if not diffs:
        return {"difference": None, "ci95": None, "p": None, "n": 0}
    diff = np.asarray(diffs)
    rng = np.random.default_rng(seed)
    boot = rng.choice(diff, size=(_RESAMPLES, diff.size)).mean(axis=1)
    signs = rng.choice([-1.0, 1.0], size=(_RESAMPLES * 5, diff.size))
    flipped = np.abs((signs * diff).mean(axis=1))
    p = (1 + int(np.sum(flipped >= abs(diff.mean()) - 1e-12))) / (1 + flipped.size)
    return {
        "difference": float(diff.mean()),
        "ci95": [float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))],
        "p": float(p),
        "n": int(diff.size),
    }


def markdown(report: Mapping[str, Any]) -> str:
    """``report.md``: invalid variants first, then the variants side by side, then the pairs."""
    variants = report["variants"]
    lines = ["# Replay report", ""]
    for warning in _warnings(variants):  # each its own paragraph
        lines += [warning, ""]
    for key, value in report.get("setup", {}).items():
        lines.append(f"- {key}: {value}")
    if report.get("setup"):
        lines.append("")
    dims = sorted({d for v in variants.values() for d in v["scores"]}, key=_order)
    lines += [
        "Scores: mean over dialogues [95% bootstrap interval]; Yes = 1, To some extent = 0.5, "
        "No = 0 (reveals_answer: 1 = gives the answer away). Human tutors' responses are scored "
        "the same way.",
        "",
        *_table(["variant", "n", "failures", "valid", "judge failures", *dims]),
    ]
    for name, v in variants.items():
        judge = f"{v['judge_failures']} of {v['judged']}" if v.get("judged") else "-"
        valid = "yes" if v["valid"] else "**no**"
        cells = [_cell(v["scores"].get(d)) for d in dims]
        lines += _table([name, str(v["n"]), str(v["failures"]), valid, judge, *cells], head=False)
    if report.get("paired") and dims:
        lines += [
            "",
            "Against the base model, on the cuts both answered: mean difference "
            "[95% interval] (paired permutation p).",
            "",
            *_table(["pair", *dims]),
        ]
        for pair, per_dim in report["paired"].items():
            cells = [_pair_cell(per_dim.get(d)) for d in dims]
            lines += _table([pair, *cells], head=False)
    agreement = report.get("judge_agreement")
    if agreement:
        lines += [
            "",
            "The judge's measured agreement with MRBench's human labels (its `judge:` columns "
            "count only as far as this):",
            "",
            "| dimension | n | macro-F1 | accuracy | kappa | failures |",
            "|---|---|---|---|---|---|",
        ]
        for dim, a in agreement.get("dimensions", {}).items():
            lines.append(
                f"| {dim} | {a['n']} | {a['macro_f1']:.3f} | {a['accuracy']:.3f} | "
                f"{a['kappa']:.3f} | {a['failures']} |"
            )
    return "\n".join(lines) + "\n"


def _table(cells: Sequence[str], *, head: bool = True) -> list[str]:
    """One Markdown table row, and under a header its separator (as many cells as it has)."""
    row = "| " + " | ".join(cells) + " |"
    return [row, "|" + "---|" * len(cells)] if head else [row]


def _warnings(variants: Mapping[str, Any]) -> list[str]:
    """What does not count, said first: invalid variants, variants the judge failed on."""
    lines = []
    invalid = [name for name, v in variants.items() if not v["valid"]]
    for name in invalid:
        v = variants[name]
        if v["n"] == 0:
            lines.append(
                f"**{name} has no answers**: no replayed cut gave it one"
                + (
                    " (the data tags no human move after these cuts; try --turns all)."
                    if name == "oracle"
                    else "."
                )
            )
            continue
        lines.append(
            f"**{name} is not valid**: {v['failures']} of {v['n']} answers failed "
            f"({v['failures'] / v['n']:.1%}, over {MAX_FAILURES:.0%}): "
            + ", ".join(f"{k} {c}" for k, c in v["failure_reasons"].items())
            + ". Its scores below do not count."
        )
    for name, v in variants.items():
        if v.get("judged") and not v["judge_valid"]:
            lines.append(
                f"**The judge failed on {name}**: {v['judge_failures']} of {v['judged']} "
                f"verdicts (over {MAX_FAILURES:.0%}): its `judge:` columns for {name} do not count."
            )
    return lines


def _cell(summary: Mapping[str, Any] | None) -> str:
    if not summary or summary["mean"] is None:
        return "-"
    low = summary["ci95"][0]
    high = summary["ci95"][1]
    return f"{summary['mean']:.2f} [{low:.2f}, {high:.2f}]"


def _pair_cell(paired: Mapping[str, Any] | None) -> str:
    if not paired or paired["difference"] is None:
        return "no cut both answered"
    low = paired["ci95"][0]
    high = paired["ci95"][1]
    return f"{paired['difference']:+.2f} [{low:+.2f}, {high:+.2f}] (p={paired['p']:.3f})"


def plot(report: Mapping[str, Any], target: Path, pyplot: Any) -> None:
    """``report.png``: per dimension, each variant's mean and interval; the expert as a line."""
    variants = report["variants"]
    dims = sorted({d for v in variants.values() for d in v["scores"]}, key=_order)
    if not dims:
        return
    names = list(variants)
    fig = pyplot.figure(figsize=(3.2 * len(dims), 0.45 * len(names) + 1.6))
    axes = np.atleast_1d(fig.subplots(1, len(dims), sharey=True))
    for ax, dim in zip(axes, dims, strict=True):
        for y, name in enumerate(names):
            s = variants[name]["scores"].get(dim)
            if not s or s["mean"] is None:
                continue
            low = s["ci95"][0]
            high = s["ci95"][1]
            color = "tab:gray" if not variants[name]["valid"] else "tab:blue"
            ax.errorbar(
                s["mean"], y, xerr=[[s["mean"] - low], [high - s["mean"]]], fmt="o", color=color
            )
        expert = variants.get("human:Expert", {}).get("scores", {}).get(dim)
        if expert and expert["mean"] is not None:
            ax.axvline(expert["mean"], color="tab:green", linestyle="--", label="expert")
        ax.set_title(dim.replace("_", " "), fontsize=9)
        ax.set_xlim(-0.05, 1.05)
    axes[0].set_yticks(range(len(names)), names)
    fig.suptitle(
        "mean over dialogues and its 95% interval (gray: not valid); dashed: the expert tutor",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    pyplot.close(fig)


def write_report(
    directory: Path,
    results: Sequence[Result],
    *,
    judge_agreement: Mapping[str, Any] | None = None,
    requested: Sequence[str] = (),
    setup: Mapping[str, Any] | None = None,
    dialogues: Mapping[str, str] | None = None,
    pyplot: Any = None,
) -> dict[str, Any]:
    """Write ``report.json``, ``report.md`` and (with ``pyplot``) ``report.png``; the report."""
    report = build_report(
        results,
        judge_agreement=judge_agreement,
        requested=requested,
        setup=setup,
        dialogues=dialogues,
    )
    (directory / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (directory / "report.md").write_text(markdown(report), encoding="utf-8")
    (directory / "report.png").unlink(missing_ok=True)  # an earlier run's picture is not this one
    if pyplot is not None:
        plot(report, directory / "report.png", pyplot)
    return report
