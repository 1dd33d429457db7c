"""A client of a Dataflow Runner server's REST API (``/api/v1``), for the command
line's ``--server URL``: it sends documents and reads runs, steps and logs over
HTTP (httpx), and turns the server's errors into this tool's one-line errors. It
never opens a store: what it shows is what the server answers."""
