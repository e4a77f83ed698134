"""The checker never crashes, whatever it is given, and its flow analysis answers correctly."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_resumable.lint import Finding, lint_source
from airflow_resumable.lint.flow import terminates

CORPUS = Path(__file__).parent / "corpus"
SOURCES = [path.read_text(encoding="utf-8") for path in sorted(CORPUS.glob("*.py"))]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=st.sampled_from(SOURCES), data=st.data())
def test_mangled_corpus_files_never_crash(source: str, data: st.DataObject) -> None:
    lines = source.splitlines()
    keep = data.draw(st.lists(st.booleans(), min_size=len(lines), max_size=len(lines)))
    mangled = "\n".join(line for line, kept in zip(lines, keep, strict=True) if kept)
    findings = lint_source(mangled, "mangled.py")
    assert all(
        isinstance(finding, Finding) and finding.line >= 1 and finding.col >= 1 for finding in findings
    )
    try:
        ast.parse(mangled)
    except SyntaxError:
        assert [finding.code for finding in findings] == ["ARS000"]


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_arbitrary_text_never_crashes(text: str) -> None:
    findings = lint_source(text)
    assert all(finding.code.startswith("ARS") for finding in findings)


def test_deeply_nested_code_is_reported_not_raised() -> None:
    source = "x = " + "(" * 5000 + ")" * 5000 + "\n"
    findings = lint_source(source)
    assert [finding.code for finding in findings] == ["ARS000"]


def test_long_flat_expression_does_not_hit_the_recursion_limit() -> None:
    store = "def run(task_state_store):\n    task_state_store.set('k', (" + " + ".join(["1"] * 2500) + ",))\n"
    assert [finding.code for finding in lint_source(store)] == ["ARS011"]


def _body(source: str) -> list[ast.stmt]:
    func = ast.parse(textwrap.dedent(source)).body[0]
    assert isinstance(func, ast.FunctionDef)
    return func.body


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f():\n    return 1\n", True),
        ("def f():\n    if a:\n        return 1\n", False),
        ("def f():\n    if a:\n        return 1\n    else:\n        raise X\n", True),
        ("def f():\n    while True:\n        if a:\n            return 1\n", True),
        ("def f():\n    while True:\n        if a:\n            break\n", False),
        ("def f():\n    while True:\n        for x in y:\n            break\n        return 1\n", True),
        ("def f():\n    for x in y:\n        return x\n", False),
        ("def f():\n    try:\n        return 1\n    except E:\n        pass\n", False),
        ("def f():\n    try:\n        pass\n    finally:\n        return 1\n", True),
        (
            "def f():\n    try:\n        x = 1\n    except E:\n        raise\n    else:\n        return x\n",
            True,
        ),
        ("def f():\n    with a:\n        return 1\n", True),
        ("def f():\n    match a:\n        case 1:\n            return 1\n", False),
        (
            "def f():\n    match a:\n        case 1:\n            return 1\n"
            "        case _:\n            raise X\n",
            True,
        ),
    ],
)
def test_terminates(source: str, expected: bool) -> None:
    assert terminates(_body(source)) is expected


def test_subscript_chain_too_deep_for_the_checks_is_reported() -> None:
    source = "def run(task_state_store):\n    x" + "[0]" * 1500 + ".set('k', None)\n"
    ast.parse(source)  # Python accepts it ...
    findings = lint_source(source)  # ... but following it would exceed the recursion limit
    assert [(finding.code, finding.message) for finding in findings] == [
        ("ARS000", "cannot parse: code nested too deeply to check")
    ]


def test_cyclic_local_bases_do_not_loop() -> None:
    source = textwrap.dedent(
        """
        from airflow.sdk import ResumableJobMixin

        class A(B, ResumableJobMixin):
            pass

        class B(A):
            def submit_job(self, context):
                return None
        """
    )
    findings = lint_source(source)
    assert [(finding.line, finding.code) for finding in findings] == [(9, "ARS007")]
