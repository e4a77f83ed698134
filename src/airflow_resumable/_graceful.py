"""Graceful stop: turn a SIGTERM into an exception inside an open Checkpointer block, so the block saves the
exact position before the process ends.

Why: on Airflow 3.3 the task runner's SIGTERM handler (``task_runner.py``, ``_on_term``) only calls the
operator's ``on_kill()``. Nothing raises in the task's code, so a loop runs on until the SIGKILL that
follows (5 s later when the server stopped the task) and the retry redoes everything since the last commit.
A SIGTERM comes from a worker shutting down (pod eviction, a warm shutdown) or from the supervisor when the
server says the task should stop (cleared, marked success/failed).

How: while at least one Checkpointer block is open in the main thread, a SIGTERM handler is installed that
first calls the previous handler (Airflow's, so ``on_kill()`` still runs) and then raises
``TaskStopping`` in the main thread; the ``with`` block exits through it and writes the last
completed position. The previous handler is put back when the last block closes.

``TaskStopping`` is a ``BaseException``, like ``KeyboardInterrupt`` and Airflow's own
``AirflowTaskTimeout``: an ``except Exception`` in the loop body must not swallow a stop. Airflow treats it
as a failed try (retried when retries are left).

Care taken:

- Only the first SIGTERM raises; later ones are ignored while the blocks save (a second raise would abort
  the save).
- The exception is never raised while the main thread is inside the supervisor channel (a state store
  request in flight: a half-read reply would confuse the next request) or inside the Checkpointer's own
  bookkeeping. The stop is re-delivered 20 ms later instead, until the task's own code runs again.
- ``async with`` blocks: the handler cancels the asyncio task that opened the block (raising inside the
  event loop's own code would break the loop); ``__aexit__`` then saves on the ``CancelledError``.
- Signal handlers can only be installed from the main thread: blocks opened in other threads change
  nothing (on a SIGTERM their work stops when the main thread's does).
"""

from __future__ import annotations

import logging
import re
import signal
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import FrameType

__all__ = ["TaskStopping", "block_closed", "block_opened"]

log = logging.getLogger("airflow_resumable.checkpoint")

_CHANNEL_FILES = ("/airflow/sdk/execution_time/comms.py",)
_LIBRARY = re.compile(r"/airflow_resumable/(checkpoint|_checkpoint_\w+|_store|_codec|cadence)\.py$")
_RETRY_DELAY = 0.02


class TaskStopping(BaseException):
    """The worker asked the task to stop (SIGTERM) while a Checkpointer block was open.

    Raised in the main thread so the block exits and saves the exact position; Airflow then ends the try
    as failed (and retries it when retries are left). Derives from ``BaseException`` so an
    ``except Exception`` in the loop body does not swallow it. Do not catch it; if you must, re-raise it.
    """


class _Guard:
    """The installed handler and the blocks that keep it installed (main thread only)."""

    def __init__(self) -> None:
        self.blocks: list[tuple[object, Any]] = []  # (checkpointer, asyncio task or None), opening order
        self.previous: Any = None
        self.stopping = False
        self.raised = False

    def handler(self, signum: int, frame: FrameType | None) -> None:
        if not self.stopping:
            self.stopping = True
            log.warning(
                "Received SIGTERM: stopping the task; the open Checkpointer blocks save their exact "
                "position before the process ends."
            )
            if callable(self.previous):
                self.previous(signum, frame)  # Airflow's _on_term: the operator's on_kill()
        if self.raised or not self.blocks:
            return
        task = self.blocks[-1][1]
        if task is not None:
            self.raised = True
            task.get_loop().call_soon_threadsafe(task.cancel)
        elif _busy(frame):
            timer = threading.Timer(_RETRY_DELAY, _redeliver, (self, signum))
            timer.daemon = True
            timer.start()
        else:
            self.raised = True
            raise TaskStopping(
                "The task was asked to stop (SIGTERM) while a Checkpointer block was open; the block saved "
                "its exact position on the way out, and a retry resumes after the last completed item."
            )


_GUARD: _Guard | None = None


def _redeliver(guard: _Guard, signum: int) -> None:
    if _GUARD is guard and not guard.raised:
        signal.pthread_kill(threading.main_thread().ident or 0, signum)


def _busy(frame: FrameType | None) -> bool:
    """Whether the interrupted code is a store request in flight or the Checkpointer's own bookkeeping.

    Raising there could leave the supervisor channel with a half-read reply, or the checkpoint's records
    half updated; the stop is re-delivered a moment later instead.
    """
    while frame is not None:
        name = frame.f_code.co_filename.replace("\\", "/")
        if name.endswith(_CHANNEL_FILES) or _LIBRARY.search(name):
            return True
        frame = frame.f_back
    return False


def block_opened(checkpointer: object, mode: str) -> None:
    """Called when a Checkpointer block opens: install the SIGTERM handler (main thread only)."""
    global _GUARD
    if threading.current_thread() is not threading.main_thread():
        return
    task = None
    if mode == "async":
        import asyncio

        task = asyncio.current_task()
    if _GUARD is None:
        guard = _Guard()
        try:
            guard.previous = signal.getsignal(signal.SIGTERM)
            signal.signal(signal.SIGTERM, guard.handler)
        except (ValueError, OSError):  # pragma: no cover - no signals here (embedded interpreter)
            return
        _GUARD = guard
    _GUARD.blocks.append((checkpointer, task))


def block_closed(checkpointer: object) -> None:
    """Called when a Checkpointer block closes: restore the previous handler after the last one."""
    global _GUARD
    guard = _GUARD
    if guard is None or threading.current_thread() is not threading.main_thread():
        return
    guard.blocks = [(c, t) for c, t in guard.blocks if c is not checkpointer]
    if guard.blocks:
        return
    _GUARD = None
    if signal.getsignal(signal.SIGTERM) == guard.handler:  # someone else replaced it: leave theirs
        signal.signal(signal.SIGTERM, guard.previous if guard.previous is not None else signal.SIG_DFL)
