"""``airflow-resumable state ...``: inspect and repair resumable state of a running Airflow over REST.

A thin layer over [`airflow_resumable.ops`][airflow_resumable.ops]: parse arguments, call the library, print a
table (or JSON with ``--format json``). Connection options (``--api-url``, ``--username``) may come before or
after the subcommand; the password and tokens only come from the environment (or a prompt), never from the
command line, so they do not end up in shell history or process lists.

Exit codes (also in ``EXIT_CODES`` and on the docs page "Operating"):

| code | meaning |
| ---- | ------- |
| 0 | done (``orphans``: no orphan found, or every orphan cancelled) |
| 1 | unexpected error |
| 2 | wrong usage (argparse) |
| 3 | authentication failed: the API server rejected the credentials (HTTP 401) |
| 4 | access denied: the user lacks the permission (HTTP 403), e.g. a read-only user rewinding |
| 5 | not found: DAG, run, asset or key |
| 6 | refused before writing: a guard said no, a concurrent write, or not confirmed |
| 7 | the API server could not be reached or answered with an unexpected error |
| 8 | ``orphans`` without ``--cancel``: orphaned jobs found (dry run) |
| 9 | ``orphans --cancel``: at least one cancellation failed |
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from airflow_resumable.ops.errors import (
    AccessDeniedError,
    ApiError,
    AuthenticationError,
    NotFoundError,
    OpsError,
    RefusedError,
)

__all__ = ["EXIT_CODES", "main"]

EXIT_CODES = {
    "ok": 0,
    "error": 1,
    "usage": 2,
    "authentication": 3,
    "access_denied": 4,
    "not_found": 5,
    "refused": 6,
    "api": 7,
    "orphans_found": 8,
    "cancel_failed": 9,
}
_ERRORS: list[tuple[type[OpsError], int]] = [
    (AuthenticationError, 3),
    (AccessDeniedError, 4),
    (NotFoundError, 5),
    (RefusedError, 6),
    (ApiError, 7),
]


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("connection (also from the environment)")
    group.add_argument(
        "--api-url", default=argparse.SUPPRESS, help="API server URL (AIRFLOW_RESUMABLE_API_URL)"
    )
    group.add_argument(
        "--username",
        default=argparse.SUPPRESS,
        help="log in as this user (AIRFLOW_RESUMABLE_API_USERNAME); the password comes from "
        "AIRFLOW_RESUMABLE_API_PASSWORD or a prompt. Or set AIRFLOW_RESUMABLE_API_TOKEN.",
    )
    group.add_argument(
        "--format", choices=("table", "json"), default=argparse.SUPPRESS, help="output (table)"
    )

    parser = argparse.ArgumentParser(
        prog="airflow-resumable state",
        description="Inspect and repair checkpoints, job intents and watermarks of a running Airflow "
        "through its REST API. Exit codes: 0 ok, 1 error, 2 usage, 3 authentication failed, "
        "4 access denied, 5 not found, 6 refused, 7 API unreachable, 8 orphans found, 9 cancel failed.",
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    p = sub.add_parser("checkpoints", parents=[common], help="progress of every Checkpointer in a DAG run")
    p.add_argument("dag_id")
    p.add_argument("run_id", nargs="?", help="default: the latest run")
    p = sub.add_parser("jobs", parents=[common], help="every durable job intent in a DAG run")
    p.add_argument("dag_id")
    p.add_argument("run_id", nargs="?", help="default: the latest run")
    p.add_argument("--live", action="store_true", help="ask each job's backend for its status now")

    wm = sub.add_parser("watermark", parents=[common], help="show, history or rewind an asset's watermark")
    wsub = wm.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = wsub.add_parser("show", parents=[common], help="every partition and the merged value")
    p.add_argument("asset", help="asset name or URI")
    p = wsub.add_parser("history", parents=[common], help="the kept commit records and rewinds")
    p.add_argument("asset", help="asset name or URI")
    p.add_argument("--key", help="only this key or watermark name")
    p = wsub.add_parser("rewind", parents=[common], help="move a watermark back, with a recorded reason")
    p.add_argument("asset", help="asset name or URI")
    p.add_argument("value", help="the value to move back to (ISO-8601 with offset for datetimes)")
    p.add_argument("--reason", required=True, help="why (recorded with the rewind)")
    p.add_argument("--key", help="which key when the asset has several (e.g. watermark/eu)")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    p = sub.add_parser("orphans", parents=[common], help="external jobs still running for finished tasks")
    p.add_argument("--dag", dest="dag_id", help="only this DAG")
    p.add_argument("--since", default="7d", help="tasks that ended within this window (7d, 12h, 30m)")
    p.add_argument("--cancel", action="store_true", help="cancel them (default: only list)")
    return parser


def _connect(ns: argparse.Namespace) -> Any:
    from airflow_resumable.ops.api import PASSWORD_ENV, TOKEN_ENV, USERNAME_ENV, connect

    username = getattr(ns, "username", None) or os.environ.get(USERNAME_ENV)
    password = None
    if username and not os.environ.get(TOKEN_ENV) and not os.environ.get(PASSWORD_ENV) and sys.stdin.isatty():
        password = getpass.getpass(f"Password for {username}: ")
    return connect(getattr(ns, "api_url", None), username=username, password=password)


# -- output ------------------------------------------------------------------------------------------------
def _table(rows: list[dict[str, Any]], columns: list[str], out: TextIO, empty: str) -> None:
    if not rows:
        print(empty, file=out)
        return
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip(), file=out)
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip(), file=out)


def _age(when: Any) -> str:
    from datetime import datetime, timezone

    if when is None:
        return ""
    seconds = int((datetime.now(tz=timezone.utc) - when).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{max(seconds, 0)}s ago"


def _left(record: Any) -> str | None:
    """Estimated time left of a running try's checkpoint (``?`` when it cannot be estimated)."""
    from datetime import datetime, timezone

    if not record.task.running:
        return None
    age = None if record.updated_at is None else (datetime.now(tz=timezone.utc) - record.updated_at)
    left = record.time_left(None if age is None else age.total_seconds())
    if left is None:
        return "?"
    seconds = int(left)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"~{seconds // size}{unit}"
    return f"~{seconds}s"


def _emit(ns: argparse.Namespace, payload: Any, table: Any, out: TextIO) -> None:
    if getattr(ns, "format", "table") == "json":
        json.dump(payload, out, indent=2, sort_keys=False)
        print(file=out)
    else:
        table()


# -- commands ----------------------------------------------------------------------------------------------
def _checkpoints(api: Any, ns: argparse.Namespace, out: TextIO) -> int:
    from airflow_resumable.ops import tasks

    found = tasks.checkpoints(api, ns.dag_id, ns.run_id)
    rows = [
        {
            "task": r.task.label,
            "state": r.task.state,
            "running": "yes" if r.task.running else "no",
            "key": r.key,
            "position": r.position_text,
            "type": r.position_type,
            "items": r.progress_text,
            "rate/s": None if r.rate is None else round(r.rate, 1),
            "left": _left(r),
            "committed": _age(r.updated_at),
            "try": r.written_by_try,
            "fingerprint": r.fingerprint,
        }
        for r in found
    ]
    columns = ["task", "state", "running", "key", "position", "type", "items", "rate/s", "left", "committed"]
    columns += ["try"]
    columns += ["fingerprint"]
    _emit(ns, [r.to_json() for r in found], lambda: _table(rows, columns, out, "No checkpoints."), out)
    return 0


def _job_row(j: Any) -> dict[str, Any]:
    return {
        "task": j.task.label,
        "task state": j.task.state,
        "operator": j.task.operator,
        "key": j.key,
        "gen": j.generation,
        "external id": j.external_id,
        "recorded": j.recorded_state,
        "live": j.live_status or (f"? {j.live_error}" if j.live_error else None),
        "token": j.token,
    }


def _jobs(api: Any, ns: argparse.Namespace, out: TextIO) -> int:
    from airflow_resumable.ops import tasks

    found = tasks.jobs(api, ns.dag_id, ns.run_id, live=ns.live)
    rows = [_job_row(j) for j in found]
    columns = ["task", "task state", "operator", "key", "gen", "external id", "recorded"]
    columns += ["live", "token"] if ns.live else ["token"]
    _emit(ns, [j.to_json() for j in found], lambda: _table(rows, columns, out, "No job intents."), out)
    return 0


def _orphans(api: Any, ns: argparse.Namespace, out: TextIO) -> int:
    from airflow_resumable.ops import tasks

    try:
        found, actions = tasks.orphans(api, dag_id=ns.dag_id, since=ns.since, cancel=ns.cancel)
    except ValueError as exc:
        raise RefusedError(str(exc)) from None
    if ns.cancel:
        rows = [{**_job_row(a.job), "action": a.action, "detail": a.detail} for a in actions]
        columns = ["task", "task state", "key", "external id", "live", "action", "detail"]
        payload: Any = [a.to_json() for a in actions]
        _emit(ns, payload, lambda: _table(rows, columns, out, "No orphaned jobs."), out)
        if any(a.action == "failed" for a in actions):
            return 9
        return 6 if any(a.action == "refused" for a in actions) else 0
    rows = [_job_row(j) for j in found]
    columns = ["task", "task state", "operator", "key", "external id", "live", "recorded"]
    _emit(ns, [j.to_json() for j in found], lambda: _table(rows, columns, out, "No orphaned jobs."), out)
    return 8 if found else 0


def _watermark(api: Any, ns: argparse.Namespace, out: TextIO) -> int:
    from airflow_resumable.ops import watermarks
    from airflow_resumable.ops.records import show

    if ns.action == "show":
        view = watermarks.show(api, ns.asset)

        def table() -> None:
            print(f"Asset {view.asset_name!r} ({view.asset_uri})", file=out)
            rows = [
                {
                    "key": k.key,
                    "value": show(k.value),
                    "type": k.value_type,
                    "last": k.operation,
                    "committed": _age(k.committed_at),
                    "by": k.writer,
                    "lag": k.lag_text,
                    "settle": k.settle_text,
                    "summary": json.dumps(k.summary) if k.summary else None,
                }
                for k in view.keys
            ]
            columns = ["key", "value", "type", "last", "committed", "by", "lag", "settle", "summary"]
            _table(rows, columns, out, "No watermark.")
            for name, value in view.merged.items():
                parts = sum(1 for k in view.keys if k.name == name and k.partition is not None)
                if parts:
                    print(f"merged {name} (minimum of {parts} partitions): {show(value)}", file=out)

        _emit(ns, view.to_json(), table, out)
        return 0
    if ns.action == "history":
        events = watermarks.history(api, ns.asset, ns.key)
        rows = [
            {
                "at": e.at.isoformat(timespec="seconds"),
                "key": e.key,
                "event": e.event,
                "from": show(e.previous),
                "to": show(e.value),
                "by": e.writer,
                "why": e.reason or (json.dumps(e.summary) if e.summary else None),
            }
            for e in events
        ]
        columns = ["at", "key", "event", "from", "to", "by", "why"]
        _emit(ns, [e.to_json() for e in events], lambda: _table(rows, columns, out, "No history."), out)
        return 0
    return _rewind(api, ns, out)


def _rewind(api: Any, ns: argparse.Namespace, out: TextIO) -> int:
    from airflow_resumable.ops import watermarks
    from airflow_resumable.ops.records import show

    if not ns.reason.strip():
        raise RefusedError("--reason must say why the watermark goes back; it is recorded with the rewind.")
    plan = watermarks.plan_rewind(api, ns.asset, ns.value, key=ns.key)
    print(
        f"Rewind {plan.key.key!r} of asset {plan.asset_name!r}: {show(plan.before)} -> {show(plan.target)}",
        file=sys.stderr if ns.format == "json" else out,
    )
    if not ns.yes:
        if not sys.stdin.isatty():
            raise RefusedError(
                "Not confirmed: run in a terminal to answer, or pass --yes. Nothing was written."
            )
        if input("Proceed? [y/N] ").strip().lower() not in ("y", "yes"):
            raise RefusedError("Not confirmed. Nothing was written.")
    after = watermarks.rewind(api, plan, reason=ns.reason)
    payload = {"asset": plan.asset_name, "key": after.key, "before": None, "after": after.to_json()}
    payload["before"] = show(plan.before)
    _emit(ns, payload, lambda: print(f"Done: {after.key!r} is now {show(after.value)}.", file=out), out)
    return 0


_COMMANDS = {"checkpoints": _checkpoints, "jobs": _jobs, "orphans": _orphans, "watermark": _watermark}


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run ``airflow-resumable state`` with ``argv``; returns the exit code (see the module docs)."""
    out = out or sys.stdout
    ns = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    ns.format = getattr(ns, "format", "table")
    try:
        with _connect(ns) as api:
            return _COMMANDS[ns.command](api, ns, out)
    except OpsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return next((code for kind, code in _ERRORS if isinstance(exc, kind)), 1)
    except Exception as exc:
        from airflow_resumable.errors import ResumableError

        if isinstance(exc, ResumableError):  # a library guard (e.g. ConcurrentWriteError)
            print(f"error: {exc}", file=sys.stderr)
            return 6
        raise
