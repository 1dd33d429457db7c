"""The Genie-compatible API under ``/api/v3``: what the unmodified Genie Python
client (``pygenie``, ``nflx-genie-client``) and the Airflow operators built on it
call to submit, follow, read and kill jobs, and to move cluster tags.

* ``jobs.py``: ``POST /jobs`` (JSON, or multipart: a ``request`` part and
  ``attachment`` parts), ``GET /jobs/{id}`` and its ``/status``, ``/request``,
  ``/cluster``, ``/command``, ``/execution``, ``/applications`` reads, ``DELETE``.
* ``output.py``: ``/jobs/{id}/output`` (a listing, JSON when asked) and
  ``/output/{path}`` (``stdout``, ``stderr``, ``genie/logs/genie.log``, the
  attachments), with byte ranges.
* ``clusters.py``: ``/clusters`` (tag and status filters, Genie's paging) and
  the tag endpoints.
* ``view.py``: Genie's JSON shapes, its statuses and its timestamps.

A job is a one-step run routed by ``engine/jobs.py``; the routes write nothing
themselves. Callers authenticate with the server's tokens (Bearer, or HTTP Basic
with the token as the password: ``server/auth.py``).
"""

from __future__ import annotations

from fastapi import APIRouter

from dataflow_runner.server.errors import CONFLICT, NOT_FOUND
from dataflow_runner.server.genie import clusters, jobs, output
from dataflow_runner.server.models import ErrorBody

#: What any Genie call may answer besides the common errors.
RESPONSES = {
    **NOT_FOUND,
    **CONFLICT,
    412: {"model": ErrorBody, "description": "no cluster or command can take the job"},
    413: {"model": ErrorBody, "description": "the attachments are too large"},
    416: {"model": ErrorBody, "description": "the range is beyond the file"},
}

router = APIRouter(prefix="/api/v3", tags=["genie"], responses=RESPONSES)
router.include_router(jobs.router)
router.include_router(output.router)
router.include_router(clusters.router)
