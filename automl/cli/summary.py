"""The end-of-run summary: a JSON document for --json, a short report otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from automl.bundle import model_words, partial_words, rounds_note
from automl.events import trials_words

LEADERBOARD_ROWS = 10


def summary(card: dict[str, Any], output: Path, wall_seconds: float) -> dict[str, Any]:
    """What `automl run` reports; `wall_seconds` since the process started, export included.

    `score`, `std` and `fold_scores` describe the exported model; `algorithm` and
    `params` are the best trial's (the top of the leaderboard), and `ensemble` lists the
    members when the exported model is an ensemble; `test` is the score on held-out rows
    (with --test or --test-size), `learning_curve` the curve and its reading."""
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
        "cv": {
            "folds": card["cv"]["folds"],
            "repeats": card["cv"].get("repeats", 1),
            # Only when no trial finished its folds: {"trial", "folds", "of"}.
            **({"partial": card["cv"]["partial"]} if card["cv"].get("partial") else {}),
        },
        # The estimate of what the model exports, calibrated and at its threshold.
        "exported": card["cv"].get("exported"),
        "algorithm": single["algorithm"],
        "params": single["params"],
        "ensemble": best.get("ensemble", []),
        "trials": card["trials"],
        "refit_rows": card["refit"]["rows"],
        "refit_rounds_cut": card["refit"].get("rounds_cut"),
        "refit_rounds_scaled": card["refit"].get("rounds_scaled"),
        "rows": card["data"]["rows"],
        "time_budget": card["time_budget"],
        "wall_seconds": round(wall_seconds, 3),
        "explanation": card.get("explanation"),
        "report": str(output / "report.html") if card.get("explanation") else None,
        "leaderboard": [
            {k: row[k] for k in ("rank", "trial", "algorithm", metric, "std")}
            for row in card["leaderboard"][:LEADERBOARD_ROWS]
        ],
        "best_by_algorithm": [
            {k: row[k] for k in ("rank", "trial", "algorithm", metric, "std")}
            for row in card.get("best_by_algorithm", [])
        ],
        "test": card.get("test"),
        "learning_curve": card.get("learning_curve"),
        "decision": card.get("decision"),
        "imbalance": card.get("imbalance"),
        "parent": card.get("parent"),
        "calibration": card.get("calibration"),
        "model": model_words(best),
    }


def print_summary(result: dict[str, Any]) -> None:
    console = Console()
    metric = result["metric"]
    trials = result["trials"]
    console.print(
        f"Best: [bold]{result['model']}[/]  {metric} {result['score']:.5g}"
        f" ± {result['std']:.2g} ({_cv_name(result['cv'])})",
        highlight=False,
    )
    console.print(
        f"Trials: {trials_words(trials)}; {result['wall_seconds']:.1f} s of a"
        f" {result['time_budget']:g} s budget",
        highlight=False,
    )
    test = result["test"]
    if test and test["score"] is not None:
        interval = f" ({test['low']:.4g} to {test['high']:.4g})" if test["low"] is not None else ""
        console.print(
            f"Test: {metric} [bold]{test['score']:.5g}[/]{interval} on {test['rows']} held-out"
            " rows",
            highlight=False,
        )
        if test["agreement"]:
            style = "" if test["agreement"]["within"] else "[yellow]"
            console.print(style + test["agreement"]["text"], highlight=False)
    if result["decision"]:
        choice = result["decision"]
        console.print(
            f"Decision threshold {choice['threshold']:.4g} for {result['classes'][1]!r}:"
            f" {metric} {choice['score']:.4g} out-of-fold, against {choice['score_at_half']:.4g}"
            " at 0.5",
            highlight=False,
        )
    exported = result["exported"]
    if exported:
        console.print(
            f"Cross-validated {metric} of the model as exported: {exported['score']:.4g}"
            f" ± {exported['std']:.3g} ({exported['how']})",
            highlight=False,
        )
    found = result["calibration"]
    if found and found["kept"]:
        console.print(
            f"Probabilities calibrated (temperature {found['temperature']:.3g}): out-of-fold"
            f" log loss {found['log_loss_before']:.4g} -> {found['log_loss_after']:.4g}",
            highlight=False,
        )
    if result["parent"]:
        console.print(f"[bold]Retrained:[/] {result['parent']['text']}", highlight=False)
    if result["learning_curve"]:
        console.print(f"Learning curve: {result['learning_curve']['verdict']}", highlight=False)
    cut = rounds_note(
        {"rounds_cut": result["refit_rounds_cut"], "rounds_scaled": result["refit_rounds_scaled"]}
    )
    if cut or result["refit_rows"] < result["rows"]:
        console.print(
            f"[yellow]Refitted on {result['refit_rows']} of {result['rows']} rows"
            f"{cut or ' to keep the time budget'}.[/]"
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
    others = [r for r in result["best_by_algorithm"] if r["rank"] > LEADERBOARD_ROWS]
    if others:
        console.print(
            "Best of the other algorithms: "
            + ", ".join(f"{r['algorithm']} {r[metric]:.5g} (rank {r['rank']})" for r in others),
            highlight=False,
        )
    if result["explanation"]:
        console.print(
            "Columns that matter most: " + ", ".join(result["explanation"]["top"]),
            highlight=False,
        )
    console.print(f"Model saved in {result['output']}", highlight=False)
    if result["report"]:
        console.print(f"Report: {result['report']}", highlight=False)


def _cv_name(cv: dict[str, Any]) -> str:
    repeats = f", repeated {cv['repeats']} times" if cv["repeats"] > 1 else ""
    words = f"{cv['folds']}-fold CV{repeats}"
    return f"{partial_words(cv)}, {words}" if cv.get("partial") else words
