"""How fast `automl serve` answers, against the model called in-process on the same rows.

    python benchmarks/serve.py                      # makes a LightGBM model of churn first
    python benchmarks/serve.py --model runs/churn --duration 10

Starts `automl serve MODEL --port P` (one worker process unless --workers) and loads it
with `wrk`, the C load generator (Debian: `apt-get install wrk`), through a Lua script
that POSTs the same JSON body to /predict: 1-row and 100-row requests at 1, 8 and 32
concurrent clients (connections, each sending its next request when the last is
answered), DURATION seconds each after a warm-up. wrk and not a Python client: one wrk
thread drives all the connections through epoll for a few microseconds of CPU a request,
so on a 2-core machine it leaves the server a core of its own, where a Python
(httpx/asyncio) client would spend about as much CPU a request as the server and so
measure itself. wrk reports requests a second and latency percentiles; the Lua `done`
hook prints them as JSON.

The limit is the fitted pipeline called in this process on the same rows, already
prepared: `pipeline.predict_proba` (classification) or `pipeline.predict`, timed REPEAT
times. `AutoML.predict_proba` (or `AutoML.predict`) on the raw rows, which the server runs
(the schema's checks and the preparation of the rows included), is timed too. The ratios
divide the server's latencies by the limit's median, and its requests a second by the
limit's calls a second.

Writes benchmarks/results/serve-<YYYYMMDD-HHMMSS>.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path

import httpx
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
CHURN = ROOT / "sample_data" / "churn.csv"
RESULTS = Path(__file__).resolve().parent / "results"
ROW_COUNTS = (1, 100)
CLIENTS = (1, 8, 32)
# Prints wrk's figures as one JSON line; latencies are in microseconds.
DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %f, "p50": %f, "p99": %f, "errors": %d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50),
    latency:percentile(99), e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def make_model(directory: Path) -> Path:
    """A LightGBM model of churn (one algorithm, no ensemble: the same model every run)."""
    output = directory / "churn"
    subprocess.run(
        [sys.executable, "-m", "automl", "run", str(CHURN), "--target", "churned",
         "--algorithms", "lightgbm", "--no-ensemble", "--no-explain", "--n-trials", "8",
         "--time-budget", "60", "--output", str(output), "--quiet"],
        check=True,
    )  # fmt: skip
    return output


@contextlib.contextmanager
def serving(model: Path, workers: int) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "automl", "serve", str(model), "--port", str(port),
               "--workers", str(workers)]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            if server.poll() is not None:
                raise RuntimeError(f"automl serve {model} stopped with code {server.returncode}")
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait()


def load_with_wrk(url: str, body: str, clients: int, seconds: int, directory: Path) -> dict:
    script = directory / "post.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = [==[{body}]==]\n{DONE}"
    )
    result = subprocess.run(
        ["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--timeout", "30s", "-s", str(script),
         f"{url}/predict"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    if figures["errors"]:
        raise RuntimeError(f"wrk saw {figures['errors']} errors:\n{result.stdout}")
    return figures


def timed(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median and 99th percentile of `call`'s wall time, in milliseconds."""
    call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), statistics.quantiles(times, n=100)[98]


def in_process(model_dir: Path, frame: pd.DataFrame, repeat: int) -> dict[str, float]:
    from automl import data
    from automl.api import load

    model = load(model_dir)
    X = data.prepare(frame, model.schema_)
    pipeline, classes = model.pipeline_, model.schema_.classes
    limit = pipeline.predict_proba if classes is not None else pipeline.predict
    p50, p99 = timed(lambda: limit(X), repeat)
    whole = model.predict_proba if classes is not None else model.predict
    automl_p50, _ = timed(lambda: whole(frame), repeat)
    return {"pipeline_p50_ms": p50, "pipeline_p99_ms": p99, "automl_p50_ms": automl_p50}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="A bundle [default: make one of churn].")
    parser.add_argument("--duration", type=int, default=8, help="Seconds of load a run.")
    parser.add_argument("--repeat", type=int, default=500, help="In-process calls timed.")
    parser.add_argument("--workers", type=int, default=1, help="automl serve --workers.")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (or brew install wrk).")
    table = pd.read_csv(CHURN)
    load_before = os.getloadavg()
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        model = options.model or make_model(directory)
        card = json.loads((model / "model_card.json").read_text())
        with serving(model, options.workers) as url:
            for n_rows in ROW_COUNTS:
                frame = table.head(n_rows)
                body = json.dumps({"rows": json.loads(frame.to_json(orient="records"))})
                limit = in_process(model, frame, options.repeat)
                load_with_wrk(url, body, 8, 2, directory)  # warm-up
                for clients in CLIENTS:
                    figures = load_with_wrk(url, body, clients, options.duration, directory)
                    runs.append(summarize(n_rows, clients, figures, limit))
    report = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "model": {"dir": str(model), "task": card["task"], "algorithm": card["best"]["algorithm"]},
        "load_generator": subprocess.run(
            ["wrk", "-v"], capture_output=True, text=True
        ).stdout.splitlines()[0],
        "duration_seconds": options.duration,
        "workers": options.workers,
        "machine": {
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "versions": {name: version(name) for name in ("automl", "fastapi", "uvicorn", "lightgbm")},
        "runs": runs,
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"serve-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(runs))
    print(f"\nWritten to {path.relative_to(ROOT)}.")
    return 0


def summarize(n_rows: int, clients: int, figures: dict, limit: dict[str, float]) -> dict:
    per_second = figures["requests"] / figures["seconds"]
    p50, p99 = figures["p50"] / 1000, figures["p99"] / 1000
    return {
        "rows": n_rows,
        "clients": clients,
        "requests_per_second": per_second,
        "p50_ms": p50,
        "p99_ms": p99,
        **limit,
        "p50_ratio": p50 / limit["pipeline_p50_ms"],
        "p99_ratio": p99 / limit["pipeline_p50_ms"],
        "throughput_share": per_second * limit["pipeline_p50_ms"] / 1000,
    }


def markdown(runs: list[dict]) -> str:
    lines = [
        "| rows | clients | requests/s | p50 ms | p99 ms | pipeline p50 ms | AutoML p50 ms"
        " | p50 / pipeline | p99 / pipeline | requests/s / pipeline calls/s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['rows']} | {r['clients']} | {r['requests_per_second']:,.0f} | {r['p50_ms']:.2f}"
        f" | {r['p99_ms']:.2f} | {r['pipeline_p50_ms']:.2f} | {r['automl_p50_ms']:.2f}"
        f" | {r['p50_ratio']:.1f} | {r['p99_ratio']:.1f} | {r['throughput_share']:.2f} |"
        for r in runs
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
