"""The benchmark's sweep code on two tiny cells on the in-memory store, so that ``make bench`` cannot rot.

Timings are not checked here (a shared CI machine is too noisy for that): only that every part runs and what
it counts.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from airflow_resumable.testing import InMemoryStateBackend

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"


@pytest.fixture
def sweep(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import checkpoint_sweep

    return checkpoint_sweep


def test_the_sweep_runs_tiny_cells_and_counts_writes(
    sweep: ModuleType, state_backend: InMemoryStateBackend, tmp_path: Path
) -> None:
    cells = sweep.plan([1e-5, 1e-3], [0.02], 2, 2, old=True)
    assert [(c.cost, c.items, c.modes) for c in cells] == [
        (1e-5, 2000, ("bare", "checkpointer", "old")),
        (1e-3, 20, ("bare", "checkpointer", "old")),
    ]
    for cell in cells:
        cell.results = sweep.measure_cell(
            state_backend.task_store(), cell.items, cell.spin, cell.rounds, cell.modes, "smoke"
        )
        assert len(cell.results) == 2
        assert cell.ratio() > 0 and cell.fastest() > 0 and cell.ratio(clock="cpu") > 0
        assert cell.writes() == 0  # a loop far shorter than the bound: nothing written, so nothing to delete
        assert 0 < cell.redo() < 5
    assert cells[0].writes("old") == 2  # every(1000): after item 1000, and the delete at the end
    text = sweep.table(cells)
    assert text.count("\n") == 3 and "| 10 µs | 0.02 s | 2,000 | " in text and " ms |" in text
    sweep.save(cells, tmp_path / "sweep.json")
    assert [c.results for c in sweep.load(tmp_path / "sweep.json")] == [c.results for c in cells]
    pytest.importorskip("matplotlib", reason="the chart needs the docs extra (matplotlib)")
    sweep.chart(cells, tmp_path / "sweep.png", "smoke test")
    assert (tmp_path / "sweep.png").read_bytes()[:4] == b"\x89PNG"


def test_the_benchmark_command_runs_in_quick_mode(
    sweep: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    import bench_checkpoint

    bench_checkpoint.main(["--quick", "--loop-items", "1000"])  # the exit status reflects timing: not checked
    out = capsys.readouterr().out
    assert "| item cost |" in out
    assert "overhead per item" in out
