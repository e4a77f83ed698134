"""The input of a mapped task instance is part of the fingerprint (real Airflow: test_checkpoint_dags.py)."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from airflow_resumable import Checkpointer, every
from airflow_resumable._checkpoint_mapped import combined_fingerprint, mapped_input
from airflow_resumable.testing import InMemoryStateBackend, make_context, task_context

if TYPE_CHECKING:
    import pytest


def mapped_context(
    backend: InMemoryStateBackend, map_index: int, expand: Any, **op_kwargs: Any
) -> dict[str, Any]:
    """A context shaped like the Task SDK's for a TaskFlow task mapped with ``expand`` (a dict of names,
    or a list as expand_kwargs() gives)."""
    mapped = SimpleNamespace(
        _expand_input_attr="op_kwargs_expand_input", op_kwargs_expand_input=SimpleNamespace(value=expand)
    )
    dag = SimpleNamespace(dag_id="dag", max_active_runs=1, get_task=lambda task_id: mapped)
    task = SimpleNamespace(op_kwargs=op_kwargs, python_callable=lambda **_: None)
    return make_context(backend=backend, task_id="load", map_index=map_index, dag=dag, task=task)


def test_an_unmapped_task_has_no_mapped_input() -> None:
    assert mapped_input(make_context()) is None
    assert mapped_input(None) is None


def test_the_expanded_arguments_of_this_index_are_read() -> None:
    context = mapped_context(
        InMemoryStateBackend(), 1, {"partition": ["eu", "us"]}, partition="us", day="2026-05-04"
    )
    assert mapped_input(context) == {"partition": "us"}  # only what expand() gave, not the partial kwargs


def test_expand_kwargs_uses_all_the_call_arguments() -> None:
    context = mapped_context(InMemoryStateBackend(), 0, [{"a": 1}], a=1, b="x")
    assert mapped_input(context) == {"a": 1, "b": "x"}


def test_values_that_are_not_plain_are_left_out() -> None:
    context = mapped_context(InMemoryStateBackend(), 0, {"conn": [object()], "n": [1]}, conn=object(), n=1)
    assert mapped_input(context) == {"n": 1}


def test_a_user_fingerprint_is_combined_with_the_mapped_input() -> None:
    assert combined_fingerprint("abc", None) == "abc"
    assert combined_fingerprint(None, {"p": 1}) != combined_fingerprint("abc", {"p": 1})
    assert combined_fingerprint("abc", {"p": 1}) != combined_fingerprint("abc", {"p": 2})


def _load(context: dict[str, Any], fail_at: int | None = None) -> list[int]:
    seen = []
    with task_context(context):
        try:
            with Checkpointer("rows", commit=every(1)) as ckpt:
                for row in ckpt.iterate(range(1, 11)):
                    if row == fail_at:
                        raise RuntimeError(row)
                    seen.append(row)
        except RuntimeError:
            pass
    return seen


def test_progress_of_another_input_at_the_same_index_is_discarded(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    backend = InMemoryStateBackend()
    assert _load(mapped_context(backend, 1, {"partition": ["a", "b"]}, partition="b"), fail_at=6) == [
        1,
        2,
        3,
        4,
        5,
    ]
    with caplog.at_level(logging.WARNING, logger="airflow_resumable.checkpoint"):
        seen = _load(mapped_context(backend, 1, {"partition": ["a", "x"]}, partition="x"))
    assert seen == list(range(1, 11))
    logged = caplog.text + capsys.readouterr().out  # stdlib logging, or Airflow's handler once configured
    assert "now expanded with {'partition': 'x'}" in logged


def test_the_same_input_at_the_same_index_resumes() -> None:
    backend = InMemoryStateBackend()
    assert _load(mapped_context(backend, 1, {"partition": ["a", "b"]}, partition="b"), fail_at=6) == [
        1,
        2,
        3,
        4,
        5,
    ]
    assert _load(mapped_context(backend, 1, {"partition": ["a", "b"]}, partition="b")) == [6, 7, 8, 9, 10]
