"""``sakimori serve``: run the platform service (the REST API) with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8000,
    log_json: Annotated[
        bool,
        typer.Option(
            "--log-json",
            help="Log at INFO as JSON lines (one a request, with its request id) to stderr.",
        ),
    ] = False,
    jobs: Annotated[
        bool,
        typer.Option(
            "--jobs/--no-jobs",
            help="With the embedded job queue (SAKIMORI_JOBS=inprocess, the default), run jobs "
            "in this process. With SAKIMORI_JOBS=postgres, `sakimori worker` runs them.",
        ),
    ] = True,
) -> None:
    """Serve the REST API (docs/api.md). Put it behind a TLS-terminating proxy in production."""
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from sakimori.api import create_app
    from sakimori.cli.context import settings
    from sakimori.store.db import open_database

    config = settings()
    # Migrate before the first request, and fail here, not on a request, if the database is off.
    open_database(config.database_url).dispose()
    if log_json:
        from sakimori import logs

        logs.configure(json_lines=True)
    app = create_app(config, serving=True)
    # The embedded queue runs in this process, on the app's database (woken by its commits);
    # the PostgreSQL queue has `sakimori worker` processes of its own.
    queue = None
    if jobs and config.jobs != "postgres":
        from sakimori.jobs.backends import open_queue

        queue = open_queue(app.state.runtime.database, config)
        queue.start()
    try:
        uvicorn.run(
            app,
            log_config=None if log_json else LOGGING_CONFIG,
            host=host,
            port=port,
            log_level="info",
            access_log=False,  # the app logs each request once, with its id and user
            server_header=False,
            proxy_headers=False,
        )
    finally:
        if queue is not None:
            queue.stop()
