"""benchmarks/compare.py: merging earlier result files, and the ablation part of the report.

No model is fitted: the records are made by hand, as ``compare.py`` would have scored them.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

# benchmarks/ is a directory of scripts, not a package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import compare
import report
import systems
from tables import DATASETS

WINE_SPLIT = "a" * 64
DIABETES_SPLIT = "d" * 64


def record(system: str, dataset: str, budget: int, score: float | None) -> dict[str, Any]:
    """A scored run record (lgbm's has no budget)."""
    return {
        **compare.new_record(system, dataset, budget),
        "score": score,
        "fit_seconds": 1.0,
        "process_seconds": 3.0,
    }


def result_file(
    directory: Path, name: str, scores: dict[str, dict[tuple[str, int], float]], **changes: Any
) -> Path:
    """A compare JSON like compare.py writes: scores[system][(dataset, budget)]."""
    rows = []
    for dataset, budget in sorted({key for by_row in scores.values() for key in by_row}):
        results = {
            s: record(s, dataset, budget, v[(dataset, budget)])
            for s, v in scores.items()
            if (dataset, budget) in v
        }
        rows.append({"dataset": dataset, "budget": budget, "results": results})
    result = {
        "created": "2026-11-21T16:35:00+00:00",
        "total_seconds": 5000.0,
        "load_average": {"before": 0.05, "after": 1.5},
        "seed": 0,
        "n_jobs": 2,
        "test_size": 0.25,
        "systems": list(scores),
        "tables": {
            "wine": {"rows": 178, "split_sha256": WINE_SPLIT},
            "diabetes": {"rows": 442, "split_sha256": DIABETES_SPLIT},
        },
        "merged_from": {},
        "rows": rows,
        **changes,
    }
    path = directory / name
    path.write_text(json.dumps(result))
    return path


def this_run(*extra: str) -> Any:
    return compare.parse_args(
        ["--budgets", "10", "--datasets", "wine", "diabetes", "--systems", "automl", *extra]
    )


TABLES = {
    "wine": {"rows": 178, "split_sha256": WINE_SPLIT},
    "diabetes": {"rows": 442, "split_sha256": DIABETES_SPLIT},
}


def test_merge_takes_each_system_from_its_file(tmp_path: Path) -> None:
    peers = result_file(
        tmp_path,
        "compare-peers.json",
        {
            "flaml": {("wine", 10): 0.11, ("diabetes", 10): 55.0},
            # lgbm's one run, repeated in each budget's row as files before --splits have it
            "lgbm": {("wine", 10): 0.15, ("wine", 60): 0.15, ("diabetes", 10): 60.0},
            # run again now: this run's automl wins over the file's
            "automl": {("wine", 10): 9.99, ("diabetes", 10): 9.99},
        },
    )
    other = result_file(tmp_path, "compare-ag.json", {"autogluon": {("wine", 60): 0.09}})
    args = this_run("--merge", str(peers), str(other))
    runs, sources = compare.merge_runs(compare.read_merged(args.merge, args), args, TABLES)

    assert sources["flaml"] == sources["lgbm"]
    assert [s["file"] for s in sources["flaml"]] == [str(peers.resolve())]
    assert [s["file"] for s in sources["autogluon"]] == [str(other.resolve())]
    assert "automl" not in sources
    assert runs[("flaml", "diabetes", 10)]["score"] == 55.0
    assert runs[("lgbm", "wine", None)]["score"] == 0.15
    assert not any(system == "automl" for system, _, _ in runs)

    now = {("automl", "wine", 10): record("automl", "wine", 10, 0.12)}
    systems = compare.in_order([*args.systems, *sources])
    rows = compare.build_rows({**runs, **now}, TABLES, args, systems)
    wine = rows[0]["results"]
    assert systems == ["automl", "flaml", "autogluon", "lgbm"]
    assert wine["automl"]["score"] == 0.12
    # autogluon's file has budget 60 only: no score at 10, and no error either
    assert wine["autogluon"]["score"] is None and wine["autogluon"]["error"] is None
    assert rows[0]["verdicts"] == {"flaml": "loss", "autogluon": None, "lgbm": "win"}

    text = report.markdown(rows, systems, [10], 0.001, sources)
    assert text.splitlines()[2] == (
        "flaml, lgbm from compare-peers.json, run at 2026-11-21T16:35:00+00:00 "
        "(load average 0.05 before, 1.50 after)."
    )
    assert "| wine | 178 | log_loss ↓ | 10 | 0.1200 | 0.1100 | - | 0.1500 |" in text
    # runs that never happened (autogluon at 10 s, automl on diabetes) are left out of the
    # normalized means instead of counting as the worst: wine 0.75, 1, 0; diabetes 1, 0
    assert "| 10 | 0.750 | 1.000 | - | 0.000 | 2 |" in text


def test_a_remerged_system_keeps_its_first_file(tmp_path: Path) -> None:
    peers = result_file(tmp_path, "compare-peers.json", {"flaml": {("wine", 10): 0.11}})
    args = this_run("--merge", str(peers))
    _, sources = compare.merge_runs(compare.read_merged(args.merge, args), args, TABLES)
    ablation = result_file(
        tmp_path,
        "compare-ablation.json",
        {"flaml": {("wine", 10): 0.11}, "automl-serial": {("wine", 10): 0.2}},
        merged_from=sources,
    )
    args = this_run("--merge", str(ablation))
    _, sources = compare.merge_runs(compare.read_merged(args.merge, args), args, TABLES)
    assert [s["file"] for s in sources["flaml"]] == [str(peers.resolve())]
    assert [s["file"] for s in sources["automl-serial"]] == [str(ablation.resolve())]


def test_merge_refuses_other_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    other_split = {"wine": {"rows": 178, "split_sha256": "b" * 64}}
    peers = result_file(
        tmp_path, "compare-peers.json", {"flaml": {("wine", 10): 0.11}}, tables=other_split
    )
    args = this_run("--merge", str(peers))
    earlier = compare.read_merged(args.merge, args)
    with pytest.raises(compare.MergeError, match=r"split of wine .* not the same rows"):
        compare.merge_runs(earlier, args, TABLES)
    # a table of the file that this run does not use is not checked
    assert list(compare.merge_runs(earlier, args, {"diabetes": TABLES["diabetes"]})[1]) == ["flaml"]

    # the same through the command line, against wine's real split: nothing runs
    monkeypatch.setattr(compare, "pin_to_cores", lambda n_jobs: None)
    monkeypatch.setattr(compare, "run_all", lambda *args: pytest.fail("ran despite the refusal"))
    argv = ["--budgets", "10", "--datasets", "wine", "--systems", "automl", "--merge", str(peers)]
    assert compare.main([*argv, "--output-dir", str(tmp_path / "out")]) == 2
    assert "the split of wine" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_merge_refuses_a_run_in_two_files(tmp_path: Path) -> None:
    first = result_file(tmp_path, "first.json", {"flaml": {("wine", 10): 0.11}})
    second = result_file(tmp_path, "second.json", {"flaml": {("wine", 10): 0.12}})
    args = this_run("--merge", str(first), str(second))
    with pytest.raises(
        compare.MergeError, match=r"flaml on wine at 10 s is in .*first\.json and in"
    ):
        compare.merge_runs(compare.read_merged(args.merge, args), args, TABLES)


def test_a_system_merges_from_files_that_hold_different_runs(tmp_path: Path) -> None:
    # the large tables from one file, the small tables' splits from another
    first = result_file(tmp_path, "first.json", {"flaml": {("diabetes", 10): 55.0}})
    second = result_file(tmp_path, "second.json", {"flaml": {("wine", 10): 0.12}})
    args = this_run("--merge", str(first), str(second))
    runs, sources = compare.merge_runs(compare.read_merged(args.merge, args), args, TABLES)
    assert [s["file"] for s in sources["flaml"]] == [str(first.resolve()), str(second.resolve())]
    assert {key: r["score"] for key, r in runs.items()} == {
        ("flaml", "diabetes", 10): 55.0,
        ("flaml", "wine", 10): 0.12,
    }
    text = report.markdown([], ["automl", "flaml"], [10], 0.001, sources)
    assert "flaml from first.json" in text and "flaml from second.json" in text


def test_small_tables_are_scored_on_several_splits_and_averaged(tmp_path: Path) -> None:
    argv = "--budgets 10 --datasets wine churn --splits 3 --systems automl,flaml"
    args = compare.parse_args(argv.split())
    keys = compare.split_keys(args)
    # churn has 10,000 rows: one split
    assert keys == {"wine": ["wine", "wine@1", "wine@2"], "churn": ["churn"]}
    assert compare.planned(args).startswith("8 runs, 80 s of budget")
    args.datasets = ["wine"]
    tables = compare.write_splits(args, tmp_path)
    assert sorted(tables) == ["wine", "wine@1", "wine@2"]
    assert len({t["split_sha256"] for t in tables.values()}) == 3
    # split 0 is the split a one-split run makes, so earlier results merge
    assert tables["wine"] == compare.write_split(DATASETS["wine"], 0, tmp_path / "again")
    # a run of the later splits alone makes the same splits, to be merged with split 0's
    later = compare.parse_args([*argv.split(), "--first-split", "1"])
    assert compare.split_keys(later) == {"wine": ["wine@1", "wine@2"]}
    assert compare.write_splits(later, tmp_path / "later") == {
        key: tables[key] for key in ("wine@1", "wine@2")
    }

    scores = {"automl": (0.1, 0.2, 0.3), "flaml": (0.15, 0.15, None)}
    runs = {
        (system, key, 10): record(system, key, 10, value)
        for system, values in scores.items()
        for key, value in zip(keys["wine"], values, strict=True)
    }
    runs[("automl", "wine@2", 10)]["fit_seconds"] = 12.5
    (row,) = compare.build_rows(runs, tables, args, ["automl", "flaml"])
    automl, flaml = row["results"]["automl"], row["results"]["flaml"]
    assert row["splits"] == 3 and automl["split_scores"] == [0.1, 0.2, 0.3]
    assert automl["score"] == pytest.approx(0.2) and automl["fit_seconds"] == 12.5
    # a split without a score leaves the table without one, so no verdict
    assert flaml["score"] is None and row["verdicts"] == {"flaml": None}

    # flaml is better on two splits of three, but worse on average: 0.2 against 0.3
    runs[("flaml", "wine@2", 10)]["score"] = 0.6
    (row,) = compare.build_rows(runs, tables, args, ["automl", "flaml"])
    assert row["verdicts"] == {"flaml": "win"}
    text = report.markdown([row], ["automl", "flaml"], [10], 0.001)
    assert "| wine (mean of 3 splits) | 178 | log_loss ↓ | 10 | 0.2000 | 0.3000 | win |" in text
    assert "| wine | 10 | 0.1000 / 0.2000 / 0.3000 | 0.1500 / 0.1500 / 0.6000 |" in text


@pytest.mark.parametrize(
    ("change", "option"),
    [({"seed": 1}, "seed"), ({"n_jobs": 4}, "n jobs"), ({"test_size": 0.2}, "test size")],
)
def test_merge_refuses_other_settings_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict, option: str
) -> None:
    peers = result_file(tmp_path, "compare-peers.json", {"flaml": {("wine", 10): 0.1}}, **change)
    argv = ["--budgets", "10", "--datasets", "wine", "--systems", "automl", "--merge", str(peers)]
    argv += ["--output-dir", str(tmp_path / "out")]
    assert compare.main(argv) == 2
    assert f"was made with {option} {next(iter(change.values()))}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_merge_refuses_a_file_without_split_hashes(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"seed": 0, "n_jobs": 2, "test_size": 0.25, "rows": []}))
    args = this_run("--merge", str(path))
    with pytest.raises(compare.MergeError, match="no split hashes"):
        compare.read_merged(args.merge, args)


def test_system_and_dataset_shorthands() -> None:
    assert compare.parse_args([]).systems == ["automl", "flaml", "autogluon", "lgbm"]
    assert compare.parse_args(["--systems", "ablation,lgbm"]).systems == [
        "automl",
        *systems.ABLATIONS,
        "lgbm",
    ]
    small = compare.parse_args(["--datasets", "small", "wine", "churn"]).datasets
    assert small == ["breast_cancer", "wine", "digits", "diabetes", "anes96", "churn"]


def test_a_variant_is_automl_with_its_one_option(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[dict[str, Any]] = []
    fitted: list[dict[str, Any]] = []

    class FakeAutoML:
        def __init__(self, **options: Any) -> None:
            made.append(options)
            self.card = {
                "cv": {"score": 1.0, "std": 0.1, "folds": 5},
                "best": {"algorithm": "linear"},
                "timing": {"wall_seconds": 1.0},
                "refit": {"rows": 2},
                "data": {"rows": 2},
            }

        def fit(self, frame: pd.DataFrame, target: str, **kwargs: Any) -> None:
            fitted.append(kwargs)

        def predict(self, frame: pd.DataFrame) -> np.ndarray:
            return np.zeros(len(frame))

    monkeypatch.setitem(sys.modules, "automl", types.SimpleNamespace(AutoML=FakeAutoML))
    # The runner says which plugins to load; the test's process gets its setting back.
    monkeypatch.setenv("AUTOML_LOAD_PLUGINS", "")
    frame = pd.DataFrame({"x": [1.0, 2.0], "target": [0.5, 1.5]})
    for system in ("automl", "automl-norepeat", "automl-serial", "automl-heldout"):
        *_, info = systems.RUNNERS[system](frame, frame, DATASETS["diabetes"], 10, 0, 2, None)
    plain = {"time_budget": 10, "seed": 0, "n_jobs": 2, "metric": None}
    assert made == [plain, {**plain, "cv_repeats": 1}, {**plain, "parallel_trials": False}, plain]
    assert fitted == [{}, {}, {}, {"test_size": 0.2}]
    assert (info["cv_score"], info["cv_std"], info["curve_seconds"]) == (1.0, 0.1, None)


def ablation_rows() -> list[dict[str, Any]]:
    """wine (log loss) and diabetes (RMSE) at 10 s: automl, two variants and FLAML."""
    scores = {
        ("wine", "log_loss"): {"automl": 0.10, "automl-noensemble": 0.12, "automl-serial": 0.10},
        ("diabetes", "rmse"): {"automl": 50.0, "automl-noensemble": 45.0, "automl-serial": 62.5},
    }
    flaml = {"wine": 0.08, "diabetes": 55.0}
    rows = []
    for (dataset, metric), by_system in scores.items():
        results = {s: record(s, dataset, 10, v) for s, v in by_system.items()}
        results["flaml"] = record("flaml", dataset, 10, flaml[dataset])
        verdicts = {"flaml": report.verdict(metric, by_system["automl"], flaml[dataset], 0.001)}
        rows.append(
            {
                "dataset": dataset,
                "task": DATASETS[dataset].task,
                "metric": metric,
                "rows": 1,
                "budget": 10,
                "results": results,
                "verdicts": verdicts,
            }
        )
    return rows


def table_line(text: str, *first_cells: str) -> list[str]:
    start = "| " + " | ".join(first_cells) + " |"
    (line,) = [line for line in text.splitlines() if line.startswith(start)]
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_ablation_part() -> None:
    systems_ = ["automl", "automl-noensemble", "automl-serial", "flaml"]
    text = report.markdown(ablation_rows(), systems_, [10], 0.001)
    ablation = text.split("## Ablation")[1]

    # normalized over automl and the variants only: wine 1, 0, 1; diabetes 5/7, 1, 0
    noensemble = table_line(ablation, "automl-noensemble", "10")
    # full automl wins on wine (0.10 < 0.12), loses on diabetes (50 > 45);
    # relative differences +1/6 and -1/10: mean +3.33%
    assert noensemble == ["automl-noensemble", "10", "0.857", "0.500", "1", "0", "1", "0", "+3.33%"]
    serial = table_line(ablation, "automl-serial", "all")
    # a tie on wine, a win on diabetes by 12.5/62.5 = 20%: mean +10%
    assert serial == ["automl-serial", "all", "0.857", "0.500", "1", "1", "0", "0", "+10.00%"]
    assert "`automl-noensemble` `ensemble=False`" in ablation


def test_variants_stay_out_of_the_comparison_with_the_peers() -> None:
    systems_ = ["automl", "automl-noensemble", "automl-serial", "flaml"]
    rows = ablation_rows()
    rows[0]["results"]["automl-serial"]["fit_seconds"] = 100.0
    text = report.markdown(rows, systems_, [10], 0.001)
    before_ablation = text.split("## Ablation")[0]
    scores_header = table_line(before_ablation, "dataset", "rows")
    assert scores_header[4:] == ["automl", "flaml", "vs flaml"]
    # automl against FLAML alone: last on wine, first on diabetes
    assert table_line(before_ablation, "10") == ["10", "0.500", "0.500", "2"]
    wall_header = table_line(before_ablation, "dataset", "budget (s)")
    assert wall_header[-1] == "flaml fit / process (s)"
    assert table_line(before_ablation, "wine", "10")[-2] == "**100.0 / 3.0 OVER**"
    # the bar is about full automl: a variant's run over the bound is not counted there
    assert "runs over 1.1*B+5: 0 (-)" in before_ablation.split("## The bar")[1]


def test_the_bar_also_counts_against_the_peers_runs_within_the_bound_only() -> None:
    systems_ = ["automl", "flaml"]
    rows = ablation_rows()  # automl loses to FLAML on wine, wins on diabetes
    bar = report.markdown(rows, systems_, [10], 0.001).split("## The bar")[1]
    assert "best of flaml on 1/2 tables (50%);" in bar and "within 1.1*B+5 only" not in bar
    # FLAML's wine run took 100 s of a 10 s budget: beside the count against every peer
    # run, the count against those within 1.1*B+5 only.
    rows[0]["results"]["flaml"]["fit_seconds"] = 100.0
    bar = report.markdown(rows, systems_, [10], 0.001).split("## The bar")[1]
    assert "1/2 tables (50%); 2/2 against the peers' runs within 1.1*B+5 only" in bar
    assert "runs over 1.1*B+5: 1 (flaml on wine)" in bar
