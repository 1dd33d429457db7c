"""The server: the engine's front end over HTTP (``dataflow-runner server``).

One more front end of :class:`~dataflow_runner.engine.api.Engine`, not a second
engine: it accepts runs (QUEUED, ``engine/queue.py``), its workers start them
(``engine/workers.py``), and its read side is the store's. The package:

``settings.py``   what ``dataflow-runner server`` is told (address, store, workers, key)
``state.py``      one server's parts: its engine, key, queue, workers, metrics
``app.py``        ``create_app``: the FastAPI application, its start and its stop
``main.py``       ``serve``: the checks before listening, uvicorn, SIGTERM
``auth.py``       who calls: bearer tokens, the UI's session cookie, CSRF, roles
                  (``require(Role.VIEWER)`` ... as FastAPI dependencies)
``errors.py``     every error as ``{"error": {"code", "message", "details"}}``
``models.py``     the JSON the API takes and gives (what ``/openapi.json`` shows)
``runs.py``       ``/api/v1/runs``: submit, list, show, cancel, retry
``logs.py``       a step's logs: whole, byte ranges, followed as Server-Sent Events
``playbooks.py``  saved playbooks and their runs
``system.py``     clusters, health, the UI's session, tokens
``metrics.py``    ``/metrics`` (Prometheus text; a registry of the app's own)
``accesslog.py``  one line per request (Common Log Format, and the time taken)
``render.py``     what is shown of records: times, secrets masked

Nothing here imports FastAPI at the command line's start: ``cli/app_server.py``
imports this package when ``server`` runs.
"""
