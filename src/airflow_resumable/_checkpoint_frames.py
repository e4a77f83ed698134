"""Who drives a checkpointed loop, and how it let go of it, read from the driving frame (CPython).

A loop item is done when the code moves past it. A generator cannot see *why* it is closed: ``break`` and an
exception escaping the ``for`` body both close it with ``GeneratorExit`` (``sys.exc_info()`` inside it shows
only that). The frame that lets go of it can tell: after ``break`` or ``return`` the ``for`` statement drops
its iterator with a plain stack pop (``POP_TOP``, or ``POP_ITER`` on newer Pythons), while an exception drops
it while unwinding from the instruction that raised. Anything else (``close()``, garbage collection, a ``del``
of a variable holding the loop, an interpreter without frames) counts as "not by break": the item in flight
is redone, which is the safe side.

A ``for`` statement that ends because a wrapper ran out (``zip()`` with a shorter other input took one more
item from the checkpoint) is not a ``break`` either.

The same frame says who consumes the loop. A ``for`` statement (also a comprehension, ``yield from`` or
``async for``) asks for one item at a time and runs the body in between; ``list()``, ``sorted()``, a pool's
``map()`` and the like ask for items before any work on them ran, which would count them as done too early.
Those are refused at the first item.
"""

from __future__ import annotations

import os
import sys
from opcode import opname
from typing import TYPE_CHECKING

from airflow_resumable.errors import CheckpointError

if TYPE_CHECKING:
    from types import CodeType, FrameType

__all__ = ["Consumer", "consumer", "left_by_break", "on_stack"]

Consumer = tuple[int, "CodeType"]
"""The frame driving a loop: its id and its code (the code guards against a reused id)."""

# Instructions that drain an iterable at once: a call (list(), sorted(), next()...), [*it], {*it}, a, b = it.
# A for statement asks from FOR_ITER, async for and yield from from SEND (YIELD_FROM before 3.11). Anything
# else is let through: an unknown instruction on a newer Python must not refuse every loop.
_DRAINS = frozenset(
    {"PRECALL", "LIST_EXTEND", "SET_UPDATE", "DICT_UPDATE", "DICT_MERGE", "UNPACK_SEQUENCE", "UNPACK_EX"}
)
_LETS_GO = frozenset({"POP_TOP", "POP_ITER"})  # the for statement drops its iterator
_CPYTHON = sys.implementation.name == "cpython"
_POOLS = ("concurrent.futures.", "multiprocessing.")  # modules whose map()s take every item up front


def _instruction(frame: FrameType, back: int = 0) -> str | None:
    """The name of the instruction the frame is executing (``back``: one instruction earlier)."""
    try:
        return opname[frame.f_code.co_code[frame.f_lasti - 2 * back]]
    except (IndexError, AttributeError):  # pragma: no cover - not CPython
        return None


def _frame(depth: int) -> FrameType | None:
    if not _CPYTHON:  # instructions are read as CPython's; elsewhere nothing is recognised (the safe side)
        return None
    try:
        return sys._getframe(depth + 1)
    except (AttributeError, ValueError):  # pragma: no cover - not CPython, or no Python caller
        return None


def consumer(key: str) -> Consumer | None:
    """The frame asking a loop for its first item (call via ``Run.start``); refuse it if it reads ahead.

    ``None`` when it cannot be told (no Python frame): then nothing counts as "left by break".
    """
    frame = _frame(3)  # 0: here, 1: Run.start, 2: the loop, 3: whoever asked the loop for an item
    if frame is None:
        return None
    op = _instruction(frame)
    module = frame.f_globals.get("__name__")
    in_pool = isinstance(module, str) and module.startswith(_POOLS)
    if in_pool or (op is not None and (op.startswith("CALL") or op in _DRAINS)):
        name = getattr(frame.f_code, "co_qualname", frame.f_code.co_name)
        raise CheckpointError(
            f"Checkpointer {key!r}: iterate() hands out items to a `for` loop whose body does the work, but "
            f"here {name}() ({os.path.basename(frame.f_code.co_filename)}) takes items before their work has "
            "run (as list(), sorted() or a pool's map() do), so they would count as done too early and a "
            "failure would skip them. For a pool use ckpt.map(fn, items, executor); for other fan-out, "
            "ckpt.remaining(items) with ckpt.track(position, future) or ckpt.done(position)."
        )
    return id(frame), frame.f_code


def left_by_break(driver: Consumer | None) -> bool:
    """Whether the loop is being let go by its driving frame's ``break``/``return`` (call via ``Run.let_go``
    from the loop's ``GeneratorExit`` handler or finaliser)."""
    if driver is None:
        return False
    frame = _frame(3)  # 0: here, 1: Run.let_go, 2: the loop, 3: the frame letting go of it
    return (
        frame is not None
        and id(frame) == driver[0]
        and frame.f_code is driver[1]
        and _instruction(frame) in _LETS_GO
        # Not the end of a loop that ran out (3.12+: END_FOR, then the pop): a ``zip()`` whose other input
        # ran out took one item from the checkpoint that no work ever saw.
        and _instruction(frame, 1) != "END_FOR"
    )


def on_stack(driver: Consumer | None) -> bool:
    """Whether the driving frame is still running in this thread (an enclosing loop), or it cannot be told."""
    if driver is None:
        return True
    frame = _frame(1)
    while frame is not None:
        if id(frame) == driver[0] and frame.f_code is driver[1]:
            return True
        frame = frame.f_back
    return False
