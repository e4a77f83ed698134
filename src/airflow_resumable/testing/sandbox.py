"""Run real DAGs through real Airflow 3.3, in this process: a throwaway AIRFLOW_HOME with SQLite.

[`AirflowSandbox`][airflow_resumable.testing.sandbox.AirflowSandbox] is what the test suite, the benchmarks
and ``airflow-resumable demo`` use to run a DAG with ``dag.test()``: retries happen for real and the state
stores are Airflow's own. The metadata database is migrated once (and cached per Airflow version); every
[`AirflowSandbox.fresh()`][airflow_resumable.testing.sandbox.AirflowSandbox.fresh] copies that file, so each
test starts from an empty database in milliseconds instead of a 3-second migration.

Airflow reads its configuration when it is first imported, so
[`AirflowSandbox.activate()`][airflow_resumable.testing.sandbox.AirflowSandbox.activate] must run before
anything imports ``airflow``; the pytest plugin and the demo do that. On Airflow 3.3 ``dag.test()`` only runs
DAGs it can find in the dags folder, so `run_dag()` writes the DAG source there first.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = ["AirflowSandbox", "DagRunResult", "TryRecord"]

_ACTIVE: AirflowSandbox | None = None


@dataclass(frozen=True)
class TryRecord:
    """One try of one task instance: its number and how it ended (``success``, ``failed``, ...)."""

    task_id: str
    map_index: int
    try_number: int
    state: str | None


@dataclass
class DagRunResult:
    """What a [`AirflowSandbox.run_dag()`][airflow_resumable.testing.sandbox.AirflowSandbox.run_dag] call
    did."""

    dag_id: str
    run_id: str
    state: str
    tries: list[TryRecord]
    output: str
    sandbox: AirflowSandbox = field(repr=False)

    def states(self, task_id: str, map_index: int = -1) -> list[str | None]:
        """The outcome of each try of one task instance, in order, e.g. ``["failed", "success"]``."""
        return [
            t.state
            for t in sorted(self.tries, key=lambda t: t.try_number)
            if t.task_id == task_id and t.map_index == map_index
        ]

    def task_state(self, task_id: str, key: str, map_index: int = -1) -> Any:
        """The raw value left in ``task_state_store`` under ``key`` (``None`` when absent)."""
        return self.sandbox.task_state(self.dag_id, self.run_id, task_id, key, map_index)

    def task_state_keys(self, task_id: str, map_index: int = -1) -> dict[str, Any]:
        """Every key left in one task instance's ``task_state_store``, with its raw value."""
        return self.sandbox.task_state_keys(self.dag_id, self.run_id, task_id, map_index)


class AirflowSandbox:
    """A throwaway Airflow home (SQLite metadata DB, dags folder, examples off) for in-process runs."""

    def __init__(self, root: Path, template_db: Path) -> None:
        self.root = root
        self.template_db = template_db
        self.home = root
        self.dags_folder = root / "dags"
        self._runs = 0

    # -- setting up ------------------------------------------------------------------------------------
    @classmethod
    def activate(cls, root: Path | None = None, *, cache_dir: Path | None = None) -> AirflowSandbox:
        """Point Airflow at a new home under ``root`` and make sure a migrated template DB exists.

        Call it before ``airflow`` is imported. Calling it again in the same process moves the
        already-imported Airflow to the new home.
        """
        global _ACTIVE
        root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="airflow-resumable-"))
        root.mkdir(parents=True, exist_ok=True)
        template = cls._template_db(cache_dir)
        sandbox = cls(root, template)
        sandbox.fresh("initial")
        _ACTIVE = sandbox
        return sandbox

    @staticmethod
    def _airflow_version() -> str:
        from importlib.metadata import version

        return version("apache-airflow-core")

    @classmethod
    def _template_db(cls, cache_dir: Path | None) -> Path:
        """A migrated, empty metadata DB for the installed Airflow, built once and cached."""
        base = cache_dir or Path(
            os.environ.get("AIRFLOW_RESUMABLE_CACHE", Path(tempfile.gettempdir()) / "airflow-resumable-cache")
        )
        base.mkdir(parents=True, exist_ok=True)
        target = base / f"airflow-{cls._airflow_version()}-py{sys.version_info[0]}{sys.version_info[1]}.db"
        if target.exists():
            return target
        work = Path(tempfile.mkdtemp(prefix="migrate-", dir=base))
        db = work / "airflow.db"
        env = {**os.environ, **_env_for(work, work / "dags", db)}
        (work / "dags").mkdir()
        proc = subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        os.replace(db, target)  # atomic: a concurrent session sees either nothing or the whole file
        shutil.rmtree(work, ignore_errors=True)
        return target

    def fresh(self, name: str) -> Path:
        """Start over: a new home folder with an empty (migrated) DB and an empty dags folder."""
        self._runs += 1
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:80]
        home = self.root / f"{self._runs:04d}-{safe}"
        dags = home / "dags"
        dags.mkdir(parents=True, exist_ok=True)
        db = home / "airflow.db"
        shutil.copyfile(self.template_db, db)
        self.home, self.dags_folder = home, dags
        self._point_airflow_at(home, dags, db)
        return home

    @staticmethod
    def _point_airflow_at(home: Path, dags: Path, db: Path) -> None:
        env = _env_for(home, dags, db)
        os.environ.update(env)
        if "airflow.settings" not in sys.modules:
            return  # Airflow reads the environment when first imported
        from airflow import settings
        from airflow.configuration import conf

        conf.set("database", "sql_alchemy_conn", env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        conf.set("core", "dags_folder", str(dags))
        settings.configure_vars()  # type: ignore[no-untyped-call]
        settings.reconfigure_orm()  # type: ignore[no-untyped-call]

    # -- running ---------------------------------------------------------------------------------------
    def write_dag(self, source: str, filename: str = "test_dag.py") -> Path:
        """Place DAG source in the dags folder (where ``dag.test()`` on 3.3 needs it) and return its path."""
        path = self.dags_folder / filename
        path.write_text(textwrap.dedent(source))
        return path

    def run_dag(
        self,
        source: str | Path,
        *,
        dag_id: str | None = None,
        run_conf: dict[str, Any] | None = None,
        logical_date: datetime | None = None,
        filename: str | None = None,
        echo: bool = False,
    ) -> DagRunResult:
        """Run one DagRun of the DAG in ``source`` (DAG code, or a path to a DAG file) with ``dag.test()``.

        Returns the run's state, every try of every task instance and the output captured while it ran.
        With ``echo`` the output is also passed through to this process's stdout.
        """
        if isinstance(source, Path):
            path = self.dags_folder / (filename or source.name)
            if source.resolve() != path.resolve():
                shutil.copyfile(source, path)
        else:
            path = self.write_dag(source, filename or "test_dag.py")

        with _capture(echo=echo) as buffer:
            from airflow.dag_processing.dagbag import DagBag

            bag = DagBag(dag_folder=str(path))
            if bag.import_errors:
                raise RuntimeError(f"DAG file {path} did not import: {bag.import_errors}")
            if not bag.dags:
                raise RuntimeError(
                    f"DAG file {path} defines no DAG. Airflow only parses files that mention both 'airflow' "
                    "and 'dag', and only DAGs created at module level (call the @dag function)."
                )
            if dag_id is None:
                if len(bag.dags) != 1:
                    raise ValueError(f"{path} defines {sorted(bag.dags)}; pass dag_id= to choose one")
                dag_id = next(iter(bag.dags))
            dag = bag.dags[dag_id]
            kwargs: dict[str, Any] = {"run_conf": run_conf}
            if logical_date is not None:
                kwargs["logical_date"] = logical_date
            dag_run = dag.test(**kwargs)
        run_id = dag_run.run_id
        return DagRunResult(
            dag_id=dag_id,
            run_id=run_id,
            state=str(getattr(dag_run.state, "value", dag_run.state)),
            tries=self._tries(dag_id, run_id),
            output=buffer.getvalue(),
            sandbox=self,
        )

    # -- reading what happened ---------------------------------------------------------------------------
    @staticmethod
    def _tries(dag_id: str, run_id: str) -> list[TryRecord]:
        from airflow.models.taskinstance import TaskInstance
        from airflow.models.taskinstancehistory import TaskInstanceHistory
        from airflow.utils.session import create_session

        records: list[TryRecord] = []
        with create_session() as session:
            models: tuple[Any, ...] = (TaskInstanceHistory, TaskInstance)
            for model in models:
                rows = session.query(model).filter(model.dag_id == dag_id, model.run_id == run_id)
                for row in rows:
                    state = getattr(row.state, "value", row.state)
                    records.append(TryRecord(row.task_id, row.map_index, row.try_number, state))
        return sorted(records, key=lambda r: (r.task_id, r.map_index, r.try_number))

    @staticmethod
    def task_state_keys(dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        """Every key in one task instance's task_state_store, read straight from the metadata DB."""
        from airflow.models.task_state_store import TaskStateStoreModel as Row
        from airflow.utils.session import create_session

        with create_session() as session:
            rows = session.query(Row).filter(
                Row.dag_id == dag_id, Row.run_id == run_id, Row.task_id == task_id, Row.map_index == map_index
            )
            return {row.key: json.loads(row.value) for row in rows}

    @classmethod
    def task_state(cls, dag_id: str, run_id: str, task_id: str, key: str, map_index: int = -1) -> Any:
        """One key of one task instance's task_state_store (``None`` when absent)."""
        return cls.task_state_keys(dag_id, run_id, task_id, map_index).get(key)

    @staticmethod
    def asset_state(asset_name: str) -> dict[str, Any]:
        """Every key of one asset's asset_state_store with its raw value and who wrote it last."""
        from airflow.models.asset import AssetModel
        from airflow.models.asset_state_store import AssetStateStoreModel as Row
        from airflow.utils.session import create_session

        with create_session() as session:
            rows = (
                session.query(Row)
                .join(AssetModel, AssetModel.id == Row.asset_id)
                .filter(AssetModel.name == asset_name)
            )
            return {
                row.key: {
                    "value": json.loads(row.value),
                    "dag_id": row.last_updated_by_dag_id,
                    "run_id": row.last_updated_by_run_id,
                    "task_id": row.last_updated_by_task_id,
                    "map_index": row.last_updated_by_map_index,
                }
                for row in rows
            }


def _env_for(home: Path, dags: Path, db: Path) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{db}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    }


class _Tee(io.TextIOBase):
    def __init__(self, buffer: io.StringIO, passthrough: Any) -> None:
        self._buffer, self._passthrough = buffer, passthrough

    def write(self, s: str) -> int:
        self._buffer.write(s)
        if self._passthrough is not None:
            self._passthrough.write(s)
        return len(s)

    def flush(self) -> None:
        if self._passthrough is not None:
            self._passthrough.flush()


@contextlib.contextmanager
def _capture(*, echo: bool) -> Iterator[io.StringIO]:
    """Collect what the run prints (task prints and task logs) into a buffer.

    Standard-library log records are collected by a root handler as well, because handlers configured
    before the run hold the stream they were given then and would bypass the redirection.
    """
    buffer = io.StringIO()
    out = _Tee(buffer, sys.stdout if echo else None)
    err = _Tee(buffer, sys.stderr if echo else None)
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield buffer
    finally:
        root.removeHandler(handler)
