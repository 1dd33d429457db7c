"""Processes: is one alive (a zombie is not: it has exited, nobody reaped it
yet), and how the thread that starts and reaps steps asks to be scheduled."""

from __future__ import annotations

import logging
import os
import struct
import sys

log = logging.getLogger("dataflow_runner")

#: ``sched_setattr(2)``'s number by machine (``os`` has no wrapper for it).
_SCHED_SETATTR = {"x86_64": 314, "aarch64": 274, "riscv64": 274, "ppc64le": 355, "s390x": 345}
_RESET_ON_FORK = 0x01  # SCHED_FLAG_RESET_ON_FORK
#: The time slice the runner's thread asks for (the kernel's shortest: 0.1 ms).
RUNNER_SLICE_NS = 100_000


def pid_alive(pid: int | None) -> bool:
    """True when ``pid`` names a running (not zombie) process of this host."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user's process
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True  # no /proc (not Linux): kill(0) said it exists


def prefer_prompt_wakeups() -> bool:
    """Ask the kernel for a short time slice for the calling thread: with Linux's
    EEVDF scheduler (6.12 and later) a task with a shorter slice is run sooner when
    it wakes, so when a step ends the runner starts the next one at once instead of
    waiting for a core that its other steps hold (measured on two cores: the
    per-step slope of 2,000 trivial steps 5-8% lower). Its weight (nice) does not
    change: it gets no more CPU than before, only sooner. Reset-on-fork keeps the
    steps it starts on the default slice, so they are scheduled as they would have
    been; for that reason it is asked only by a thread of the normal policy at a
    nice of 0 or more (reset-on-fork would give a negative nice's children nice 0).
    Older kernels accept the call and ignore the slice. Returns whether it was made.
    """
    number = _SCHED_SETATTR.get(os.uname().machine) if sys.platform == "linux" else None
    if number is None:
        return False
    try:
        nice = os.getpriority(os.PRIO_PROCESS, 0)  # on Linux: this thread's
        if os.sched_getscheduler(0) != os.SCHED_OTHER or nice < 0:
            return False
        import ctypes

        # struct sched_attr (SCHED_ATTR_SIZE_VER1): size, policy, flags, nice,
        # priority, runtime, deadline, period, util_min, util_max.
        attr = struct.pack(
            "=IIQiIQQQII", 56, os.SCHED_OTHER, _RESET_ON_FORK, nice, 0, RUNNER_SLICE_NS, 0, 0, 0, 0
        )
        buffer = ctypes.create_string_buffer(attr, len(attr))
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.syscall(number, 0, buffer, 0) != 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    except (OSError, AttributeError) as exc:  # a seccomp filter, no libc symbol...
        log.debug("could not ask for a short time slice: %s", exc)
        return False
    return True
