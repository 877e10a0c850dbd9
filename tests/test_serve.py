"""`automl serve`: real uvicorn servers on free loopback ports, asked by a real HTTP client.

One small model of sample_data/churn.csv is made per module. Servers run as a user runs
them (`python -m automl serve ...`, in a subprocess) and are killed in teardown whatever
happens.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from support import SAMPLES, assert_clean_failure, quick, run_cli

KEY_ENV = "AUTOML_TEST_SERVE_KEY"
KEY = "k3y-for-tests-0f9c"
BODY_LIMIT = 200_000
CSV = {"Content-Type": "text/csv"}


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    output: Path  # what the server printed

    def client(self, key: str | None = KEY) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


@contextlib.contextmanager
def serving(model_dir: Path, directory: Path, *options: str) -> Iterator[Server]:
    """`automl serve MODEL_DIR --port P OPTIONS`, once it answers /health."""
    port = _free_port()
    output = directory / f"server-{port}.log"
    command = [sys.executable, "-m", "automl", "serve", str(model_dir), "--port", str(port)]
    with output.open("wb") as sink:  # a file, not a pipe: the access log never blocks it
        process = subprocess.Popen(
            [*command, *options], stdout=sink, stderr=subprocess.STDOUT, env=_env()
        )
    server = Server(process, f"http://127.0.0.1:{port}", output)
    try:
        _wait_until_up(server)
        yield server
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def _env() -> dict[str, str]:
    return {**os.environ, KEY_ENV: KEY}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_up(server: Server, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"the server stopped:\n{server.output.read_text()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{server.url}/health", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    pytest.fail(f"the server did not answer within {timeout} s:\n{server.output.read_text()}")


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    return json.loads(frame.to_json(orient="records", double_precision=15))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("serve") / "churn"
    result = run_cli(
        "run", str(SAMPLES / "churn.csv"), "--target", "churned", "--time-budget", "20",
        *quick("lightgbm,linear", n_trials=3), "--no-ensemble", "--no-learning-curve",
        "--output", str(output), "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return output


@pytest.fixture(scope="module")
def schema(model_dir: Path) -> dict[str, object]:
    return json.loads((model_dir / "model_card.json").read_text())["schema"]


@pytest.fixture(scope="module")
def server_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server")


@pytest.fixture(scope="module")
def server(model_dir: Path, server_dir: Path) -> Iterator[Server]:
    """The server most tests ask: with an API key, a request log and a small body limit."""
    with serving(
        model_dir, server_dir, "--api-key-env", KEY_ENV,
        "--log-requests", str(server_dir / "requests.csv"), "--max-body-bytes", str(BODY_LIMIT),
    ) as server:  # fmt: skip
        yield server


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    """Rows as users send them: one with a category never seen, missing values, a date
    that is no date, and a column the model does not use."""
    frame = pd.read_csv(SAMPLES / "churn.csv").head(30)
    frame.loc[0, "contract"] = "weekly"
    frame.loc[1, "monthly_charges"] = np.nan
    frame.loc[2, "region"] = None
    frame.loc[3, "signup_date"] = "someday"
    frame["note"] = "not a column of the model"
    return frame


def test_predictions_and_probabilities_are_those_of_automl_predict(
    server, model_dir, rows, tmp_path
):
    rows.to_csv(tmp_path / "rows.csv", index=False)
    result = run_cli("predict", str(model_dir), str(tmp_path / "rows.csv"), "--proba")
    assert result.returncode == 0, result.stderr
    expected = pd.read_csv(io.StringIO(result.stdout))
    with server.client() as client:
        answers = [
            client.post("/predict", json={"rows": _records(rows)}),
            client.post("/predict", content=rows.to_csv(index=False), headers=CSV),
        ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["predictions"] == expected["prediction"].tolist()
        probabilities = pd.DataFrame(body["probabilities"])
        assert list(probabilities.columns) == ["no", "yes"]
        np.testing.assert_allclose(probabilities, expected[["no", "yes"]], rtol=0, atol=1e-12)
        warned = " ".join(body["warnings"])
        assert "'note'" in warned and "'signup_date'" in warned, body["warnings"]


def test_a_value_of_the_wrong_type_is_a_422_naming_row_and_column(server, rows):
    records = _records(rows.head(3))
    records[2]["tenure_months"] = "twelve"
    text = rows.head(3).assign(tenure_months=["1", "2", "twelve"]).to_csv(index=False)
    with server.client() as client:
        answers = [
            client.post("/predict", json={"rows": records}),
            client.post("/predict", content=text, headers=CSV),
            client.post("/invocations", json={"dataframe_records": records}),
        ]
    for answer in answers:
        assert answer.status_code == 422, answer.text
        [issue] = answer.json()["detail"]
        assert (issue["row"], issue["column"]) == (2, "tenure_months")
        assert "row 2, column 'tenure_months'" in issue["msg"] and "number" in issue["msg"]


def test_a_missing_column_is_a_422_naming_it(server, rows):
    records = _records(rows.head(2))
    for record in records:
        del record["contract"]
    with server.client() as client:
        answer = client.post("/predict", json={"rows": records})
    assert answer.status_code == 422
    assert {(i["row"], i["column"], i["type"]) for i in answer.json()["detail"]} == {
        (0, "contract", "missing"),
        (1, "contract", "missing"),
    }


def test_rows_the_model_cannot_take_are_no_server_error(server, rows):
    records = _records(rows.head(2))
    records[0]["signup_date"] = "2021-09-22T10:00:00+05:00"
    records[1]["signup_date"] = "2021-09-22T10:00:00Z"  # another time zone
    with server.client() as client:
        answer = client.post("/predict", json={"rows": records})
        assert client.get("/health").status_code == 200
    assert answer.status_code < 500, answer.text


@pytest.mark.parametrize(
    "body, headers",
    [
        (b"", {}),
        (b'{"rows": []}', {}),
        (b"{", {}),
        (b"", CSV),
        (b"contract,region\n", CSV),
        (b"C00001,2021-09-22,28,75.09\nC00002,2023-01-11,12,70.34\n", CSV),
    ],
    ids=["empty", "no rows", "broken JSON", "empty CSV", "CSV header only", "CSV without header"],
)
def test_an_empty_or_broken_body_is_a_422(server, body, headers):
    with server.client() as client:
        answer = client.post("/predict", content=body, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"][0] == "body"


def test_mlflow_invocations_answer_as_predict_does(server, rows):
    split = json.loads(rows.to_json(orient="split", index=False, double_precision=15))
    with server.client() as client:
        expected = client.post("/predict", json={"rows": _records(rows)}).json()["predictions"]
        answers = [
            client.post("/invocations", json={"dataframe_records": _records(rows)}),
            client.post("/invocations", json={"dataframe_split": split, "params": {}}),
            client.post("/invocations", content=rows.to_csv(index=False), headers=CSV),
        ]
        split["data"][1][split["columns"].index("support_calls")] = "many"
        wrong = client.post("/invocations", json={"dataframe_split": split})
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"predictions": expected}
    assert wrong.status_code == 422
    assert (wrong.json()["detail"][0]["row"], wrong.json()["detail"][0]["column"]) == (
        1,
        "support_calls",
    )


def test_every_route_but_health_needs_the_api_key(server):
    routes = [("POST", "/predict"), ("POST", "/invocations"), ("POST", "/explain"),
              ("GET", "/model"), ("GET", "/openapi.json"), ("GET", "/docs")]  # fmt: skip
    for key in (None, "wrong", KEY[:-1]):
        with server.client(key) as client:
            for method, path in routes:
                answer = client.request(method, path, json={"rows": [{}]})
                assert answer.status_code == 401, (key, path)
                assert answer.headers["www-authenticate"] == "Bearer"
            assert client.get("/health").json() == {"status": "ok"}
    with server.client() as client:
        assert client.get("/model").status_code == 200
    assert KEY not in server.output.read_text()


def test_explain_gives_every_columns_contribution(server, schema, rows):
    with server.client() as client:
        why = client.post("/explain", json={"rows": _records(rows.head(4))}).json()
        scored = client.post("/predict", json={"rows": _records(rows.head(4))}).json()
        too_many = client.post("/explain", json={"rows": _records(rows.head(1)) * 101})
    columns = {c["name"] for c in schema["columns"]}
    to_probability = {"log-odds": lambda x: 1 / (1 + math.exp(-x)), "probability": lambda x: x}
    link = to_probability[why["space"]]
    for row, prediction, probabilities in zip(
        why["explanations"], scored["predictions"], scored["probabilities"], strict=True
    ):
        assert set(row["contributions"]) == columns
        assert row["prediction"] == prediction and row["explained"] == "yes"
        output = row["base_value"] + sum(row["contributions"].values())
        assert link(output) == pytest.approx(probabilities["yes"], abs=1e-6)
    assert too_many.status_code == 422


def test_concurrent_clients_each_get_their_own_answer(server, rows):
    """Twenty requests at once, each answered (warnings too) as when asked alone."""
    bodies = [{"rows": _records(rows.iloc[[i]])} for i in range(20)]
    with server.client() as client:
        alone = [client.post("/predict", json=body).json() for body in bodies]

    def ask(body: dict[str, object]) -> dict[str, object]:
        with server.client() as client:
            return client.post("/predict", json=body).json()

    with ThreadPoolExecutor(len(bodies)) as pool:
        together = list(pool.map(ask, bodies))
    assert together == alone
    assert any("'signup_date'" in w for w in alone[3]["warnings"])
    assert not any("'signup_date'" in w for w in alone[4]["warnings"])


def test_the_request_log_holds_what_was_served(server, server_dir, schema, rows):
    marked = rows.head(4).assign(tenure_months=[901, 902, 903, 904])
    with server.client() as client:
        answer = client.post("/predict", json={"rows": _records(marked)}).json()
    log = server_dir / "requests.csv"
    deadline = time.monotonic() + 10
    while True:  # the rows are written once the response is sent
        try:
            frame = pd.read_csv(log)
        except pd.errors.EmptyDataError:  # nothing written yet
            frame = pd.DataFrame(columns=["tenure_months"])
        logged = frame[frame["tenure_months"].between(901, 904)]
        if len(logged) == 4 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    columns = [c["name"] for c in schema["columns"]]
    assert list(frame.columns) == [
        *columns, "prediction", "probability[no]", "probability[yes]", "served_at"
    ]  # fmt: skip
    assert logged["prediction"].tolist() == answer["predictions"]
    assert logged["probability[yes]"].tolist() == [p["yes"] for p in answer["probabilities"]]
    assert logged["contract"].tolist() == marked["contract"].tolist()
    assert pd.to_datetime(logged["served_at"]).notna().all()
    assert KEY not in log.read_text()


def test_a_body_over_the_limit_is_a_413(server):
    too_big = b" " * (BODY_LIMIT + 1)
    with server.client() as client:
        declared = client.post("/predict", content=too_big, headers={"Content-Type": "text/csv"})
        streamed = client.post("/predict", content=iter([too_big[:1000], too_big[1000:]]))
        fits = client.post("/predict", content=b" " * 1000)
    assert (declared.status_code, streamed.status_code, fits.status_code) == (413, 413, 422)


def test_the_api_is_documented_from_the_model(server, model_dir, schema):
    card = json.loads((model_dir / "model_card.json").read_text())
    with server.client() as client:
        api = client.get("/openapi.json").json()
        facts = client.get("/model").json()
        assert client.get("/docs").status_code == 200
    row = api["components"]["schemas"]["Row"]
    assert list(row["properties"]) == [c["name"] for c in schema["columns"]]
    assert "month-to-month" in row["properties"]["contract"]["description"]
    predict = api["paths"]["/predict"]["post"]
    assert set(predict["requestBody"]["content"]) == {"application/json", "text/csv"}
    assert api["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert facts["schema"] == schema and facts["classes"] == ["no", "yes"]
    assert facts["cv"]["score"] == card["cv"]["score"]
    assert facts["model"]["sha256"] == card["model"]["sha256"]


def test_schemathesis_finds_no_server_error(server, tmp_path):
    """Property-based requests from the OpenAPI schema, positive and negative: no 5xx, and
    answers as documented. Schema-valid CSV text and `dataframe_split` rows can still be
    wrong in ways JSON Schema cannot state, so `positive_data_acceptance` does not apply."""
    command = [
        str(Path(sys.executable).parent / "schemathesis"), "run", f"{server.url}/openapi.json",
        "--header", f"Authorization: Bearer {KEY}", "--max-examples", "50",
        "--generation-deterministic", "--exclude-checks", "positive_data_acceptance",
    ]  # fmt: skip
    # In tmp_path: schemathesis and hypothesis keep their caches in the working directory.
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env=_env(), cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout[-5000:]
    counts = re.search(r"(\d+) generated", result.stdout)
    assert counts and int(counts[1]) > 100, result.stdout[-2000:]
    print(result.stdout[result.stdout.rindex("SUMMARY") :])


def _without_explanations(model_dir: Path, directory: Path) -> Path:
    """A copy of the bundle as `automl run --no-explain` leaves it: no explanation files."""
    copy = shutil.copytree(model_dir, directory / "no-explain")
    card = json.loads((copy / "model_card.json").read_text())
    card["files"].pop("explain_background.parquet")
    card["explanation"] = None
    (copy / "model_card.json").write_text(json.dumps(card))
    return copy


def test_sigterm_finishes_the_request_in_flight_then_exits_0(model_dir, rows, tmp_path):
    body = json.dumps({"rows": _records(rows.head(5))}).encode()
    sent_half = threading.Event()

    def slowly() -> Iterator[bytes]:
        yield body[: len(body) // 2]
        sent_half.set()
        time.sleep(1.5)  # meanwhile the server gets its SIGTERM
        yield body[len(body) // 2 :]

    answers: list[httpx.Response] = []
    with serving(_without_explanations(model_dir, tmp_path), tmp_path) as server:
        with server.client(None) as client:
            unexplained = client.post("/explain", json={"rows": _records(rows.head(1))})
            asking = threading.Thread(
                target=lambda: answers.append(client.post("/predict", content=slowly()))
            )
            asking.start()
            assert sent_half.wait(30)
            time.sleep(0.5)
            server.process.send_signal(signal.SIGTERM)
            asking.join(60)
        assert server.process.wait(30) == 0
    assert unexplained.status_code == 409 and "--no-explain" in unexplained.json()["detail"]
    [answer] = answers
    assert answer.status_code == 200 and len(answer.json()["predictions"]) == 5
    assert "Shutting down" in server.output.read_text()


def test_workers_each_load_the_model_and_share_the_request_log(model_dir, rows, tmp_path):
    log = tmp_path / "requests.csv"
    bodies = [{"rows": _records(rows.iloc[i : i + 2])} for i in range(0, 20, 2)]
    with serving(model_dir, tmp_path, "--workers", "2", "--log-requests", str(log)) as server:

        def ask(body: dict[str, object]) -> int:
            with server.client(None) as client:
                return client.post("/predict", json=body).status_code

        with ThreadPoolExecutor(len(bodies)) as pool:
            assert set(pool.map(ask, bodies)) == {200}
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(60) == 0
    served = pd.read_csv(log)
    assert len(served) == 20 and served["prediction"].notna().all()
    assert sorted(served["support_calls"]) == sorted(rows.head(20)["support_calls"])
    assert len(re.findall(r"Started server process", server.output.read_text())) == 2


@pytest.mark.parametrize(
    "change, message",
    [("tamper", "does not match the checksum"), ("no key", "is not set, or empty")],
)
def test_a_server_that_cannot_be_trusted_does_not_start(model_dir, tmp_path, change, message):
    bundle = shutil.copytree(model_dir, tmp_path / "bundle")
    options = ["--api-key-env", "AUTOML_TEST_UNSET_KEY"] if change == "no key" else []
    if change == "tamper":
        model_file = next(bundle.glob("model-*.skops"))
        content = bytearray(model_file.read_bytes())
        content[len(content) // 2] ^= 1
        model_file.write_bytes(bytes(content))
    result = run_cli("serve", str(bundle), "--port", str(_free_port()), *options, timeout=60)
    assert_clean_failure(result, 2, message)


@pytest.mark.parametrize(
    "content, message",
    [
        ("a,b\n1,2\n", "holds rows of other columns"),
        (b"\xff\xfe\x00binary", "is not a CSV file of logged requests"),
    ],
)
def test_a_request_log_of_something_else_is_refused_and_kept(model_dir, tmp_path, content, message):
    log = tmp_path / "requests.csv"
    if isinstance(content, bytes):
        log.write_bytes(content)
    else:
        log.write_text(content)
    before = log.read_bytes()
    result = run_cli("serve", str(model_dir), "--port", str(_free_port()), "--log-requests",
                     str(log), timeout=60)  # fmt: skip
    assert_clean_failure(result, 2, message)
    assert log.read_bytes() == before
