"""The comparison report: verdicts, wins/ties/losses, normalized scores, wall time, ablation.

Works on the rows built by ``compare.py``: one row per table and budget, holding each
system's run record (``score``, ``fit_seconds``, ``process_seconds``, ``error``). automl's
ablation variants are left out of the comparison with the peers and get a part of their
own, against full automl.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from systems import ABLATIONS

HIGHER_IS_BETTER = {"roc_auc": True, "log_loss": False, "rmse": False}
PEERS = ("flaml", "autogluon", "lgbm")
BUDGETED_PEERS = ("flaml", "autogluon")


def bound(budget: float) -> float:
    """The allowed wall time in seconds for a time budget of ``budget`` seconds."""
    return 1.1 * budget + 5


def relative_difference(metric: str, a: float, b: float) -> float:
    """``(a - b) / max(|a|, |b|)``, signed so that it is positive when ``a`` is better."""
    scale = max(abs(a), abs(b))
    if scale == 0:
        return 0.0
    return (a - b) / scale * (1 if HIGHER_IS_BETTER[metric] else -1)


def verdict(metric: str, a: float | None, b: float | None, tolerance: float) -> str | None:
    """``win``, ``tie`` or ``loss`` of score ``a`` against ``b``; None if either is missing.

    A tie is a relative difference ``|a - b| / max(|a|, |b|)`` of at most ``tolerance``.
    """
    if a is None or b is None:
        return None
    difference = relative_difference(metric, a, b)
    if abs(difference) <= tolerance:
        return "tie"
    return "win" if difference > 0 else "loss"


def normalized_scores(row: dict[str, Any], systems: list[str]) -> dict[str, float]:
    """Each of ``systems``' (score - worst) / (best - worst) in one row, 1 = best, 0 = worst.

    A failed run scores 0; a run that never happened (missing from a merged file, so it
    has neither score nor error) is left out. When every score is equal, or only one
    system has a score, each system that has one scores 1.
    """
    sign = 1 if HIGHER_IS_BETTER[row["metric"]] else -1
    results = {s: row["results"][s] for s in systems}
    results = {s: r for s, r in results.items() if r["score"] is not None or r["error"]}
    scores = {s: r["score"] for s, r in results.items() if r["score"] is not None}
    if not scores:
        return {}
    best, worst = max(sign * v for v in scores.values()), min(sign * v for v in scores.values())
    return {
        system: 0.0
        if system not in scores
        else 1.0
        if best == worst
        else (sign * scores[system] - worst) / (best - worst)
        for system in results
    }


def mean_normalized(
    rows: list[dict[str, Any]], systems: list[str]
) -> tuple[dict[str, float | None], int]:
    """Each system's mean normalized score over ``rows`` (None if it ran in none of them),
    and the number of rows in which some system has a score."""
    per_row = [n for n in (normalized_scores(r, systems) for r in rows) if n]
    means: dict[str, float | None] = {}
    for system in systems:
        values = [n[system] for n in per_row if system in n]
        means[system] = sum(values) / len(values) if values else None
    return means, len(per_row)


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def score_table(rows: list[dict[str, Any]], systems: list[str]) -> str:
    """Per-table test scores, and automl's verdict against each peer."""
    peers = [p for p in PEERS if "automl" in systems and p in systems]
    header = ["dataset", "rows", "metric", "budget (s)", *systems]
    header += [f"vs {peer}" for peer in peers]
    lines = [_row(header), "|" + "---|" * len(header)]
    for row in rows:
        arrow = "↑" if HIGHER_IS_BETTER[row["metric"]] else "↓"
        name = row["dataset"]
        if row.get("splits", 1) > 1:
            name += f" (mean of {row['splits']} splits)"
        cells = [name, f"{row['rows']:,}", f"{row['metric']} {arrow}", str(row["budget"])]
        records = [row["results"][s] for s in systems]
        cells += ["error" if r["error"] else _fmt(r["score"]) for r in records]
        cells += [row["verdicts"].get(peer) or "-" for peer in peers]
        lines.append(_row(cells))
    return "\n".join(lines)


def split_table(rows: list[dict[str, Any]], systems: list[str]) -> str:
    """The score of each split of the tables scored on several, per system."""
    header = ["dataset", "budget (s)", *systems]
    lines = [_row(header), "|" + "---|" * len(header)]
    for row in rows:
        if row.get("splits", 1) > 1:
            cells = [row["dataset"], str(row["budget"])]
            for record in (row["results"][s] for s in systems):
                scores = record.get("split_scores") or []
                cells.append(" / ".join(_fmt(v) for v in scores) or "-")
            lines.append(_row(cells))
    return "\n".join(lines)


def wins_table(rows: list[dict[str, Any]], systems: list[str], budgets: list[int]) -> str:
    """automl's wins/ties/losses against each peer, per budget and over all budgets."""
    peers = [p for p in PEERS if "automl" in systems and p in systems]
    if not peers:
        return "(automl and at least one peer are needed for wins/ties/losses)"
    lines = [
        _row(["peer", "budget (s)", "wins", "ties", "losses", "no score"]),
        "|---|---|---|---|---|---|",
    ]
    for peer in peers:
        for budget in [*budgets, None]:
            chosen = [r for r in rows if budget is None or r["budget"] == budget]
            counts = {"win": 0, "tie": 0, "loss": 0, None: 0}
            for row in chosen:
                counts[row["verdicts"].get(peer)] += 1
            label = "all" if budget is None else str(budget)
            lines.append(
                _row([peer, label, *(str(counts[k]) for k in ("win", "tie", "loss", None))])
            )
    return "\n".join(lines)


def normalized_table(rows: list[dict[str, Any]], systems: list[str], budgets: list[int]) -> str:
    """Mean normalized score per system and budget (failed runs count as the worst)."""
    header = ["budget (s)", *systems, "tables"]
    lines = [_row(header), "|" + "---|" * len(header)]
    for budget in [*budgets, None]:
        chosen = [r for r in rows if budget is None or r["budget"] == budget]
        means, scored = mean_normalized(chosen, systems)
        cells = [_fmt(means[s], 3) for s in systems]
        lines.append(_row(["all" if budget is None else str(budget), *cells, str(scored)]))
    return "\n".join(lines)


def over_bound(record: dict[str, Any]) -> bool:
    """Whether a budgeted run's fit took longer than ``1.1 * budget + 5`` seconds."""
    budget, fit = record["budget"], record.get("fit_seconds")
    return budget is not None and fit is not None and fit > bound(budget)


def wall_table(rows: list[dict[str, Any]], systems: list[str]) -> str:
    """Fit and whole-process wall seconds of every run against the bound ``1.1 * B + 5``."""
    header = ["dataset", "budget (s)", "bound (s)", *(f"{s} fit / process (s)" for s in systems)]
    lines = [_row(header), "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["dataset"], str(row["budget"]), f"{bound(row['budget']):.0f}"]
        for record in (row["results"][s] for s in systems):
            fit, process = record.get("fit_seconds"), record.get("process_seconds")
            cell = f"{_fmt(fit, 1)} / {_fmt(process, 1)}"
            cells.append(f"**{cell} OVER**" if over_bound(record) else cell)
        lines.append(_row(cells))
    return "\n".join(lines)


def _at_least_best(row: dict[str, Any], peers: list[str], timely_only: bool) -> bool:
    """Whether automl has a score on `row` that no peer's beats (with `timely_only`, no
    peer's run within the bound 1.1 * B + 5)."""
    return row["results"]["automl"]["score"] is not None and all(
        row["verdicts"].get(p) in ("win", "tie", None)
        or (timely_only and over_bound(row["results"][p]))
        for p in peers
    )


def bar_lines(rows: list[dict[str, Any]], systems: list[str], budgets: list[int]) -> list[str]:
    """Issue 6's bar per budget: tables where automl has no model, share of tables where it
    is at least as good as the best budgeted peer, tables where it loses to LightGBM
    defaults, and runs over the bound."""
    lines = []
    budgeted = [p for p in BUDGETED_PEERS if p in systems]
    for budget in budgets:
        chosen = [r for r in rows if r["budget"] == budget]
        parts = []
        if "automl" in systems:
            failed = [r["dataset"] for r in chosen if r["results"]["automl"]["score"] is None]
            parts.append(f"automl without a model on {len(failed)} ({', '.join(failed) or '-'})")
        peer_scores = [r["results"][p]["score"] for r in chosen for p in budgeted]
        if "automl" in systems and budgeted and not any(s is not None for s in peer_scores):
            parts.append(f"no score of {'/'.join(budgeted)} at this budget")
        elif "automl" in systems and budgeted:
            # Against the peers that produced a score; a peer's failed run is no obstacle.
            kept = sum(_at_least_best(r, budgeted, timely_only=False) for r in chosen)
            share = f"{kept}/{len(chosen)} tables ({100 * kept / max(len(chosen), 1):.0f}%)"
            # A peer's run over the bound was not a run at this budget: the count against
            # the peers' runs within it is given beside, never instead.
            timely = sum(_at_least_best(r, budgeted, timely_only=True) for r in chosen)
            if timely != kept:
                share += f"; {timely}/{len(chosen)} against the peers' runs within 1.1*B+5 only"
            parts.append(f"automl at least as good as the best of {'/'.join(budgeted)} on {share}")
        if "automl" in systems and "lgbm" in systems:
            worse = [
                r["dataset"]
                for r in chosen
                if r["verdicts"].get("lgbm") == "loss"
                or (r["results"]["automl"]["score"] is None and r["results"]["lgbm"]["score"])
            ]
            parts.append(
                f"worse than LightGBM defaults on {len(worse)} ({', '.join(worse) or '-'})"
            )
        over = [
            f"{s} on {r['dataset']}" for r in chosen for s in systems if over_bound(r["results"][s])
        ]
        parts.append(f"runs over 1.1*B+5: {len(over)} ({', '.join(over) or '-'})")
        lines.append(f"- {budget} s: " + "; ".join(parts))
    return lines


def ablation_section(
    rows: list[dict[str, Any]], systems: list[str], budgets: list[int], tie: float
) -> list[str]:
    """The ablation part: what each variant changes, and its table (full automl needed)."""
    variants = [s for s in systems if s in ABLATIONS]
    changes = "; ".join(
        f"`{v}` " + ", ".join(f"`{k}={_shown(value)}`" for k, value in ABLATIONS[v].items())
        for v in variants
    )
    lines = [
        "## Ablation: full automl against each variant",
        "",
        (
            f"Each variant is full automl with one `AutoML` option changed: {changes}. "
            "Normalized over automl and its variants only (1 = best of them, 0 = worst); "
            f"wins/ties/losses are full automl's (tie: relative difference at most {tie:g}); "
            "mean difference is full automl's mean relative score difference, positive when "
            "full automl scored better."
        ),
        "",
    ]
    if "automl" not in systems:
        return [*lines, "(full automl is needed for the ablation part)"]
    return [*lines, ablation_table(rows, variants, budgets, tie)]


def _shown(value: Any) -> str:
    """An ablation's setting as the report shows it: functions by name."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_shown(v)}" for k, v in value.items()) + "}"
    return getattr(value, "__name__", None) or repr(value)


def ablation_table(
    rows: list[dict[str, Any]], variants: list[str], budgets: list[int], tie: float
) -> str:
    """Full automl against each variant, per budget and over all budgets.

    Mean normalized scores of both (normalized over automl and its variants only), full
    automl's wins/ties/losses against the variant, and the mean of their signed relative
    differences (positive: full automl scored better).
    """
    family = ["automl", *variants]
    header = ["variant", "budget (s)", "automl", "variant", "wins", "ties", "losses"]
    header += ["no score", "mean difference"]
    lines = [_row(header), "|" + "---|" * len(header)]
    for variant in variants:
        for budget in [*budgets, None]:
            chosen = [r for r in rows if budget is None or r["budget"] == budget]
            means = mean_normalized(chosen, family)[0]
            normalized = [_fmt(means[s], 3) for s in ("automl", variant)]
            counts = {"win": 0, "tie": 0, "loss": 0, None: 0}
            differences = []
            for row in chosen:
                full, other = row["results"]["automl"]["score"], row["results"][variant]["score"]
                counts[verdict(row["metric"], full, other, tie)] += 1
                if full is not None and other is not None:
                    differences.append(relative_difference(row["metric"], full, other))
            mean = f"{100 * sum(differences) / len(differences):+.2f}%" if differences else "-"
            label = "all" if budget is None else str(budget)
            counted = [str(counts[k]) for k in ("win", "tie", "loss", None)]
            lines.append(_row([variant, label, *normalized, *counted, mean]))
    return "\n".join(lines)


def _runs(record: dict[str, Any]) -> list[tuple[float | None, dict[str, Any] | None]]:
    """(test score, card information) of each split of a table's record."""
    if "split_scores" in record:
        return list(zip(record["split_scores"], record["split_infos"], strict=True))
    return [(record["score"], record.get("info"))]


def honesty_section(rows: list[dict[str, Any]], system: str = "automl") -> list[str]:
    """The honest-estimate check: for each table and budget, the CV estimate (mean ± the
    fold scores' standard deviation) beside the test score, and how often the test score
    lies within one such standard deviation of it; and what the learning curve cost."""
    header = ["table", "budget", "CV estimate", "test", "gap / fold std", "within", "curve s"]
    table_rows, within, counted = [], 0, 0
    for row in rows:
        record = row["results"].get(system)
        if record is None:
            continue
        for i, (test, info) in enumerate(_runs(record)):
            if test is None or not info:
                continue
            gap = abs(test - info["cv_score"]) / max(info["cv_std"], 1e-12)
            counted += 1
            within += gap <= 1.0
            name = row["dataset"] + (f"@{i}" if row.get("splits", 1) > 1 else "")
            table_rows.append(
                [
                    name,
                    str(row["budget"]),
                    f"{info['cv_score']:.4g} ± {info['cv_std']:.2g}",
                    f"{test:.4g}",
                    f"{gap:.2f}",
                    "yes" if gap <= 1.0 else "no",
                    _fmt(info.get("curve_seconds"), 3),
                ]
            )
    if not counted:
        return []
    return [
        f"## The CV estimate against the test score ({system})",
        "",
        f"The test score lies within one fold standard deviation of the CV estimate in"
        f" {within} of {counted} runs ({within / counted:.0%}). `curve s`: seconds the"
        " learning curve took, beside the explanation.",
        "",
        _row(header),
        _row(["---"] * len(header)),
        *[_row(cells) for cells in table_rows],
    ]


def source_lines(merged: dict[str, list[dict[str, Any]]]) -> list[str]:
    """One line per merged JSON file: which systems' runs came from it, and when it ran."""
    by_file: dict[str, list[str]] = {}
    facts: dict[str, dict[str, Any]] = {}
    for system, sources in merged.items():
        for source in sources:
            by_file.setdefault(source["file"], []).append(system)
            facts[source["file"]] = source
    lines = []
    for file, systems in by_file.items():
        source = facts[file]
        line = f"{', '.join(systems)} from {Path(file).name}, run at {source['created']}"
        load = source.get("load_average")
        if load:
            line += f" (load average {load['before']:.2f} before, {load['after']:.2f} after)"
        lines.append(line + ".")
    return lines


def error_lines(rows: list[dict[str, Any]]) -> list[str]:
    """One line per failed run (an lgbm failure once, not once per budget)."""
    errors: dict[str, str] = {}
    for row in rows:
        for system, record in row["results"].items():
            if record["error"]:
                key = f"{system} on {row['dataset']}"
                if record["budget"] is not None:
                    key += f" at {record['budget']} s"
                errors[key] = record["error"]
    return [f"- {key}: {message}" for key, message in errors.items()]


def markdown(
    rows: list[dict[str, Any]],
    systems: list[str],
    budgets: list[int],
    tie: float,
    merged: dict[str, list[dict[str, Any]]] | None = None,
) -> str:
    """The whole report as markdown; ``merged`` says which systems came from which file."""
    main = [s for s in systems if s not in ABLATIONS]
    sources = source_lines(merged or {})
    sections = [
        "# automl against its peers at equal budgets",
        "",
        *([*sources, ""] if sources else []),
        "## Test scores",
        "",
        score_table(rows, main),
        "",
        *(
            ["## Scores on each split", "", split_table(rows, main), ""]
            if any(r.get("splits", 1) > 1 for r in rows)
            else []
        ),
        f"## automl against each peer (tie: relative difference at most {tie:g})",
        "",
        wins_table(rows, main, budgets),
        "",
        "## Mean normalized score (per table and budget: 1 = best system, 0 = worst)",
        "",
        normalized_table(rows, main, budgets),
        "",
        "## Wall time against budget (fit over 1.1*B+5 is marked OVER)",
        "",
        wall_table(rows, systems),
        "",
        "## The bar",
        "",
        *bar_lines(rows, main, budgets),
    ]
    honesty = honesty_section(rows)
    if honesty:
        sections += ["", *honesty]
    if main != systems:
        sections += ["", *ablation_section(rows, systems, budgets, tie)]
    errors = error_lines(rows)
    if errors:
        sections += ["", "## Errors", "", *errors]
    return "\n".join(sections)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"
