"""The end-of-run summary: a JSON document for --json, a short report otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

LEADERBOARD_ROWS = 10


def summary(card: dict[str, Any], output: Path, wall_seconds: float) -> dict[str, Any]:
    """What `automl run` reports; `wall_seconds` since the process started, export included."""
    """The JSON summary. `score`, `std` and `fold_scores` describe the exported model;
    `algorithm` and `params` are the best trial's (the top of the leaderboard), and
    `ensemble` lists the members when the exported model is an ensemble."""
    metric = card["metric"]["name"]
    best = card["best"]
    single = best.get("best_single", best)
    return {
        "output": str(output),
        "task": card["task"],
        "target": card["target"],
        "classes": card["classes"],
        "metric": metric,
        "direction": card["metric"]["direction"],
        "score": card["cv"]["score"],
        "std": card["cv"]["std"],
        "fold_scores": card["cv"]["fold_scores"],
        "cv": {"folds": card["cv"]["folds"], "repeats": card["cv"].get("repeats", 1)},
        "algorithm": single["algorithm"],
        "params": single["params"],
        "ensemble": best.get("ensemble", []),
        "trials": card["trials"],
        "refit_rows": card["refit"]["rows"],
        "rows": card["data"]["rows"],
        "time_budget": card["time_budget"],
        "wall_seconds": round(wall_seconds, 3),
        "explanation": card.get("explanation"),
        "report": str(output / "report.html") if card.get("explanation") else None,
        "leaderboard": [
            {k: row[k] for k in ("rank", "trial", "algorithm", metric, "std")}
            for row in card["leaderboard"][:LEADERBOARD_ROWS]
        ],
    }


def print_summary(result: dict[str, Any]) -> None:
    console = Console()
    metric = result["metric"]
    trials = result["trials"]
    console.print(
        f"Best: [bold]{_model_name(result)}[/]  {metric} {result['score']:.5g}"
        f" ± {result['std']:.2g} ({_cv_name(result['cv'])})",
        highlight=False,
    )
    console.print(
        f"Trials: {trials['complete']} complete, {trials['pruned']} pruned,"
        f" {trials['failed']} failed; {result['wall_seconds']:.1f} s of a"
        f" {result['time_budget']:g} s budget",
        highlight=False,
    )
    if result["refit_rows"] < result["rows"]:
        console.print(
            f"[yellow]Refitted on {result['refit_rows']} of {result['rows']} rows to keep"
            " the time budget.[/]"
        )
    table = Table("rank", "trial", "algorithm", metric, "std", title="Leaderboard")
    for row in result["leaderboard"]:
        table.add_row(
            str(row["rank"]),
            str(row["trial"]),
            row["algorithm"],
            f"{row[metric]:.5g}",
            f"{row['std']:.2g}",
        )
    console.print(table)
    if result["explanation"]:
        console.print(
            "Columns that matter most: " + ", ".join(result["explanation"]["top"]),
            highlight=False,
        )
    console.print(f"Model saved in {result['output']}", highlight=False)
    if result["report"]:
        console.print(f"Report: {result['report']}", highlight=False)


def _model_name(result: dict[str, Any]) -> str:
    members = result["ensemble"]
    if not members:
        return result["algorithm"]
    parts = [f"{m['algorithm']} (trial {m['trial']}) {m['weight']:.2f}" for m in members]
    return "ensemble of " + ", ".join(parts)


def _cv_name(cv: dict[str, Any]) -> str:
    repeats = f", repeated {cv['repeats']} times" if cv["repeats"] > 1 else ""
    return f"{cv['folds']}-fold CV{repeats}"
