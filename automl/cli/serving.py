"""`automl serve`: the model of a bundle behind an HTTP API (automl/serve.py) on uvicorn.

Only click is imported here: FastAPI and uvicorn load when the command runs, so
`automl --help` stays fast.
"""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import click

from automl.errors import ExitCode, UsageError


@click.command()
@click.argument("model_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on: 0.0.0.0 for every interface (put a TLS proxy in front).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port to listen on.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Processes answering requests, each with its own copy of the model.",
)
@click.option(
    "--api-key-env",
    metavar="VAR",
    help="Require `Authorization: Bearer <key>` on every route but /health, the key read"
    " from the environment variable VAR.",
)
@click.option(
    "--log-requests",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Append each row scored, with its prediction, to this CSV file (for automl drift).",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(min=1),
    help="Refuse larger request bodies (413) [default: 10485760, 10 MiB].",
)
def serve(
    model_dir: Path,
    host: str,
    port: int,
    workers: int,
    api_key_env: str | None,
    log_requests: Path | None,
    max_body_bytes: int | None,
) -> None:
    """Serve the model in MODEL_DIR over HTTP: POST /predict, /explain and /invocations
    (MLflow's protocol), GET /health and /model; the API is documented at /docs."""
    import uvicorn

    from automl import serve as service
    from automl.api import load
    from automl.cli import _print_warning, _warnings_to

    options = service.Options(
        str(model_dir),
        api_key_env=api_key_env,
        log_requests=str(log_requests) if log_requests else None,
        max_body_bytes=max_body_bytes or service.DEFAULT_MAX_BODY_BYTES,
    )
    _check_address(host, port)
    with _warnings_to(_print_warning):
        model = load(model_dir)
        app = service.make_app(options, model)  # checks the API key and the log file
    card = model.card
    where = f"[{host}]" if ":" in host else host
    click.echo(
        f"Serving the {card['task']} model of {card['target']} in {model_dir} at"
        f" http://{where}:{port} (API documented at /docs). Ctrl-C stops it.",
        err=True,
    )
    # uvicorn finishes the requests in flight on SIGTERM, then raises the signal again for
    # its default action, which would end the process with 143: a server stopped on
    # purpose exits 0 (the same when the signal comes before uvicorn listens).
    signal.signal(signal.SIGTERM, _exit_ok)
    settings = {"host": host, "port": port, "server_header": False}
    if workers == 1:
        uvicorn.run(app, **settings)
    else:
        # Each worker process makes its app from the options and loads its own model; this
        # one only watches them, so it lets go of the copy it checked.
        del app, model
        options.export()
        uvicorn.run(
            f"{service.__name__}:from_environment", factory=True, workers=workers, **settings
        )


def _exit_ok(signum: int, frame: object) -> None:
    raise SystemExit(ExitCode.OK)


def _check_address(host: str, port: int) -> None:
    """Fail with a message, not uvicorn's log line, when the address cannot be listened on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        socket.create_server((host, port), family=family).close()
    except OSError as exc:
        raise UsageError(
            f"Cannot listen on {host}:{port}: {os.strerror(exc.errno) if exc.errno else exc}.",
            hint="Choose another --port (or --host), or stop the program that uses it.",
        ) from None
