"""The fixture DAG corpus: every rule has files that must and must not trigger it, at exact lines.

Each corpus line that must be reported carries ``# expect: ARSnnn`` (several codes separated by commas);
the test checks the checker reports exactly those (line, code) pairs and nothing else.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from airflow_resumable.lint import RULES, lint_paths

CORPUS = Path(__file__).parent / "corpus"
MARKER = re.compile(r"#\s*expect:\s*(?P<codes>ARS\d{3}(?:\s*,\s*ARS\d{3})*)")
# ARS010 compares against a baseline: its two files are exercised in test_lint_baseline.py.
FILES = sorted(path for path in CORPUS.glob("*.py") if not path.name.startswith("ars010_"))


def expected(path: Path) -> Counter[tuple[int, str]]:
    found: Counter[tuple[int, str]] = Counter()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        for match in MARKER.finditer(line):
            found.update((number, code.strip()) for code in match.group("codes").split(","))
    return found


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_corpus_file_reports_exactly_the_marked_lines(path: Path) -> None:
    findings = lint_paths([path])
    assert Counter((finding.line, finding.code) for finding in findings) == expected(path)


@pytest.mark.parametrize("code", [code for code in RULES if code not in ("ARS000", "ARS010")])
def test_every_rule_has_a_positive_and_a_negative_file(code: str) -> None:
    bad = CORPUS / f"{code.lower()}_bad.py"
    ok = CORPUS / f"{code.lower()}_ok.py"
    assert {c for _line, c in expected(bad)} == {code}
    assert len(expected(bad)) >= 4, "each rule needs several positive examples"
    assert not expected(ok)
    assert lint_paths([ok]) == []


def test_split_submit_corpus_at_exact_positions() -> None:
    findings = lint_paths([CORPUS / "ars004_bad.py"])
    assert [(f.line, f.col, f.code) for f in findings] == [
        (22, 14, "ARS004"),
        (29, 17, "ARS004"),
        (36, 12, "ARS004"),
        (39, 15, "ARS004"),
    ]
    assert "EmrAddStepsOperator (which does not wait by default)" in findings[1].message


def test_mixin_corpus_at_exact_positions() -> None:
    findings = lint_paths([CORPUS / "ars006_bad.py", CORPUS / "ars007_bad.py"])
    assert [(Path(f.path).name, f.line, f.col, f.code) for f in findings] == [
        ("ars006_bad.py", 13, 1, "ARS006"),
        ("ars006_bad.py", 18, 1, "ARS006"),
        ("ars006_bad.py", 27, 1, "ARS006"),
        ("ars006_bad.py", 32, 1, "ARS006"),
        ("ars006_bad.py", 37, 1, "ARS006"),
        ("ars007_bad.py", 14, 5, "ARS007"),
        ("ars007_bad.py", 16, 13, "ARS007"),
        ("ars007_bad.py", 25, 9, "ARS007"),
        ("ars007_bad.py", 29, 5, "ARS007"),
        ("ars007_bad.py", 34, 5, "ARS007"),
        ("ars007_bad.py", 42, 5, "ARS007"),
        ("ars007_bad.py", 52, 5, "ARS007"),
    ]


def test_whole_corpus_directory_totals() -> None:
    findings = lint_paths([CORPUS])
    by_code = Counter(finding.code for finding in findings)
    assert by_code == Counter(
        {
            "ARS001": 10,  # 9 in ars001_bad.py, 1 in airflowignore/kept.py (its two siblings are ignored)
            "ARS002": 6,
            "ARS003": 7,
            "ARS004": 4,
            "ARS005": 4,
            "ARS006": 5,
            "ARS007": 7,
            "ARS008": 9,
            "ARS009": 11,
            "ARS011": 21,
        }
    )
    assert findings == sorted(findings)
