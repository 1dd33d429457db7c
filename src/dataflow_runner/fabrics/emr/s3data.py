"""Whether data on S3 exists, for the planner and the sensors: many targets, a
few ``ListObjectsV2`` calls (never one ``HeadObject`` per key).

Each target is a question about the bucket's keys: a file is its exact key, a
directory with a success marker is the exact key ``DIR/_SUCCESS``, a directory
without one is "any key under ``DIR/``" (a zero-byte ``DIR/`` "folder" object
alone is not content). S3 lists a bucket's keys in one order (UTF-8 bytes, which
is the order of Python's strings), so the keys looked for are sorted and merged
against the listing, as a merge join would:

1. list from just before the first key still unknown (``StartAfter``: the key
   less its last character, or the directory itself), up to 1,000 keys, under
   the longest prefix common to the keys still unknown (so that a page stops
   where nothing more can be learnt);
2. every key looked for that the page reaches is answered: there when listed,
   missing when the page went past it (or the listing ended);
3. go back to 1 for the next key still unknown: the listing jumps over whatever
   lies between (another job's output, a million part files), instead of paging
   through it.

So 3,650 daily outputs ``s3://b/out/stepK/DATE/`` whose directories hold a few
objects each cost a few calls (about one per 1,000 objects listed); when every
directory holds thousands of files, a call per directory at worst (each call
answers at least the key it starts at), which is what ``HeadObject`` would have
cost. A page of keys that all sort just before the one looked for (``_SUCCESS``
beside 1,000 ``_SUCCESA...``) still advances by its last key. Nothing is kept
between two calls of :func:`exists`: a sensor's next round must see new data.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dataflow_runner.errors import FabricError, FabricUnavailable
from dataflow_runner.fabrics.base import Target

#: The marker a directory output holds once complete (Hadoop's and Spark's).
MARKER = "_SUCCESS"
#: The most keys one ListObjectsV2 call returns.
PAGE = 1000
SCHEMES = ("s3://", "s3a://", "s3n://")

#: One ListObjectsV2 call: (bucket, prefix, start after) → the keys listed (sorted)
#: and whether more follow; None when the bucket does not exist.
Lister = Callable[[str, str, str], "tuple[list[str], bool] | None"]


@dataclass(frozen=True, order=True)
class Probe:
    """A question about a bucket's keys: ``key`` itself, or (``under``) any key
    that starts with it other than itself."""

    key: str
    under: bool = False

    @property
    def start_after(self) -> str:
        """Where a listing that can answer it starts (exclusive)."""
        return self.key if self.under else self.key[:-1]

    def answer(self, keys: list[str], listed: set[str], more: bool) -> bool | None:
        """What the page ``keys`` (sorted, ``listed`` as a set; ``more``: the listing
        goes on after it) says, or None when it stops before reaching the answer."""
        if not self.under:
            if self.key in listed:
                return True
            return None if more and (not keys or self.key > keys[-1]) else False
        first = bisect.bisect_right(keys, self.key)
        if first < len(keys):
            return keys[first].startswith(self.key)
        return None if more else False


def split(uri: str) -> tuple[str, str] | None:
    """(bucket, key) of an S3 uri (``s3a://`` and ``s3n://`` are ``s3://``)."""
    for scheme in SCHEMES:
        if uri.startswith(scheme):
            bucket, _, key = uri[len(scheme) :].partition("/")
            return bucket, key
    return None


def probe(target: Target, key: str) -> Probe | None:
    """The question ``target`` asks (None: it cannot exist, an object with no key)."""
    if not target.directory:
        return Probe(key) if key else None
    return Probe(key + MARKER) if target.marker else Probe(key, under=True)


def exists(targets: Sequence[Target], list_page: Lister) -> dict[str, bool | None]:
    """Whether each S3 target exists (by uri), None for any other uri (the
    cluster's HDFS, a local path): see the module's docstring."""
    out: dict[str, bool | None] = {}
    wanted: dict[str, dict[Probe, list[str]]] = {}
    for target in targets:
        where = split(target.uri)
        if where is None:
            out[target.uri] = None
            continue
        bucket, key = where
        question = probe(target, key)
        if question is None or not bucket:
            out[target.uri] = False
            continue
        wanted.setdefault(bucket, {}).setdefault(question, []).append(target.uri)
    for bucket, questions in wanted.items():
        answers = scan(bucket, sorted(questions), list_page)
        for question, uris in questions.items():
            for uri in uris:
                out[uri] = answers[question]
    return out


def scan(bucket: str, probes: Sequence[Probe], list_page: Lister) -> dict[Probe, bool]:
    """Answer ``probes`` (sorted) by listing ``bucket`` from one to the next."""
    answers: dict[Probe, bool] = {}
    i = 0
    reached = ""  # the last key listed so far: every probe up to it is answered
    while i < len(probes):
        first = probes[i]
        # S3's Prefix is any string, not a path: character by character is right.
        prefix = os.path.commonprefix([first.key, probes[-1].key])  # noqa: RUF071
        page = list_page(bucket, prefix, max(first.start_after, reached))
        if page is None:  # no such bucket: nothing in it exists
            answers.update((p, False) for p in probes[i:])
            return answers
        keys, more = page
        listed = set(keys)
        while i < len(probes):
            found = probes[i].answer(keys, listed, more)
            if found is None:
                break
            answers[probes[i]] = found
            i += 1
        if keys:
            reached = keys[-1]
        elif more:  # a truncated page lists something: the store misbehaves
            raise FabricError(f"S3 listed nothing in s3://{bucket}/{prefix} but said more follows")
    return answers


def lister(s3: Any, call: Callable[..., Any]) -> Lister:
    """One ListObjectsV2 call through ``s3`` (the fabric's client), made by ``call``
    (which counts it and turns AWS's errors into this tool's)."""

    def list_page(bucket: str, prefix: str, start_after: str) -> tuple[list[str], bool] | None:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": PAGE}
        if start_after:
            kwargs["StartAfter"] = start_after
        try:
            page = call("ListObjectsV2", s3.list_objects_v2, **kwargs)
        except FabricUnavailable:
            raise  # throttled, or a server error: the engine backs off and tries again
        except FabricError as exc:
            code = _code(exc)
            if code == "NoSuchBucket":
                return None
            if code in ("AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId"):
                raise FabricError(
                    f"S3 refused to list s3://{bucket}/{prefix} ({code}): the credentials "
                    "need s3:ListBucket on the bucket to check the steps' data"
                ) from exc
            raise
        keys = [str(o["Key"]) for o in page.get("Contents", [])]
        return keys, bool(page.get("IsTruncated"))

    return list_page


def _code(exc: BaseException) -> str:
    """The AWS error code behind one of this tool's errors ("" when none)."""
    response = getattr(exc.__cause__, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""
