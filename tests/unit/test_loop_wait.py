"""The loop's waiter keeps its registrations across wakes: a descriptor number
that is closed and reused at once (the next step's pidfd often gets the last
one's) must be watched for what it is now."""

from __future__ import annotations

import os

from dataflow_runner.engine.loop import _Waiter


def test_ready_descriptors_are_reported_and_others_not() -> None:
    waiter = _Waiter()
    quiet_r, quiet_w = os.pipe()
    ready_r, ready_w = os.pipe()
    try:
        os.write(ready_w, b"!")
        assert waiter.wait({quiet_r, ready_r}, 0) == [ready_r]
        assert waiter.wait({quiet_r}, 0) == []  # dropped from the set: not watched
        os.write(quiet_w, b"!")
        assert waiter.wait({quiet_r}, 0) == [quiet_r]
    finally:
        for fd in (quiet_r, quiet_w, ready_r, ready_w):
            os.close(fd)


def test_a_number_closed_and_reused_between_waits_is_watched_anew() -> None:
    waiter = _Waiter()
    old_r, old_w = os.pipe()
    assert waiter.wait({old_r}, 0) == []
    os.close(old_r)
    os.close(old_w)
    new_r, new_w = os.pipe()  # the lowest free numbers: the same ones
    try:
        assert new_r == old_r
        os.write(new_w, b"!")
        assert waiter.wait({new_r}, 0) == [new_r]
    finally:
        os.close(new_r)
        os.close(new_w)
