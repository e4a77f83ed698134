"""HTML of the plugin's views: a task instance's progress, a DAG run's table, the watermarks page."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow_resumable.ops.records import CheckpointRecord, JobRecord, WatermarkKey, show
from airflow_resumable.ui.data import AssetWatermarks, TaskProgress, age_seconds
from airflow_resumable.ui.page import bar_scale, duration, esc, number, page, when

__all__ = ["progress_html", "run_html", "watermarks_html"]

REFRESH_SECONDS = 3


def _pill(state: str | None) -> str:
    return f'<span class="pill s-{esc(state)}">{esc(state or "no status")}</span>'


def _redo(record: CheckpointRecord, age: float | None, running: bool) -> str:
    """Items a new try would do again if the worker died now: done since the last commit (estimated)."""
    if not running:
        return "0 (no try running)"
    if record.items_per_second is None or age is None:
        return "unknown (no rate recorded yet)"
    return f"≈ {number(record.items_per_second * age, 0)} items ({duration(age)} of work)"


def _time_left(record: CheckpointRecord, age: float | None, running: bool) -> str:
    """Estimated time to finish, from the stored total and rate; says why when it cannot be estimated."""
    if record.total is None:
        return "unknown: no total recorded (pass total=, or iterate a list or range)"
    if record.items_left == 0:
        return "0 s (every item done)"
    if not running:
        return "— (no try running)"
    left = record.time_left(age)
    if left is None:
        return "unknown: no rate recorded yet"
    return f"≈ {duration(left)}"


def _rate(record: CheckpointRecord) -> str:
    if record.average_rate:
        return f"{number(record.average_rate)} items/s (this try's average)"
    if record.items_per_second is not None:
        return f"{number(record.items_per_second)} items/s (between the last commits)"
    return "unknown (no commit with progress yet)"


def _checkpoint_card(record: CheckpointRecord, running: bool, now: datetime) -> str:
    age = age_seconds(record.updated_at, now)
    percent = record.percent
    if percent is not None:
        share = percent / 100
        label = record.progress_text
        limits = f' aria-valuemin="0" aria-valuemax="{record.total}"'
    else:
        scale = bar_scale(record.items_done)
        share = record.items_done / scale
        label = f"{number(record.items_done)} items done (no total recorded; bar scale {number(scale)})"
        limits = ""
    problem = (
        f'<div class="muted small">Shown as stored: {esc(record.problem)}</div>' if record.problem else ""
    )
    started = (
        f"<div><span>This try started</span>{when(record.started_at)} at "
        f"{number(record.items_at_start)} items</div>"
        if record.started_at is not None
        else ""
    )
    return (
        f'<div class="card checkpoint" data-key="{esc(record.key)}" data-items="{record.items_done}"'
        f' data-total="{"" if record.total is None else record.total}"'
        f' data-percent="{"" if percent is None else f"{percent:.1f}"}">'
        f"<b>Checkpointer <code>{esc(record.key)}</code></b>"
        f'<div class="bar" role="progressbar" aria-valuenow="{record.items_done}"{limits}>'
        f'<i style="width:{share * 100:.1f}%"></i></div>'
        f'<div class="small">{esc(label)}</div>{problem}<div class="grid">'
        f"<div><span>Position ({esc(record.position_type)})</span>"
        f"<code>{esc(record.position_text)}</code></div>"
        f"<div><span>Rate</span>{esc(_rate(record))}</div>"
        f"<div><span>Time left</span>{esc(_time_left(record, age, running))}</div>"
        f"<div><span>Last commit</span>{duration(age)} ago</div>"
        f"<div><span>Redo if the worker died now</span>{esc(_redo(record, age, running))}</div>"
        f"<div><span>Fingerprint</span><code>{esc(record.fingerprint)}</code></div>"
        f"<div><span>Written by try</span>{esc(record.written_by_try)}</div>{started}"
        f"<div><span>Out-of-order runs pending</span>{record.pending_runs}</div>"
        "</div></div>"
    )


def _job_rows(jobs: list[JobRecord], links: dict[str, str], with_task: bool = False) -> str:
    rows = []
    for job in jobs:
        link = links.get(job.key)
        external = esc(show(job.external_id) if job.external_id is not None else None)
        if link:
            external = f'<a href="{esc(link)}" target="_blank" rel="noopener noreferrer">{external}</a>'
        cancelled = ""
        if job.cancelled:
            c = job.cancelled
            cancelled = (
                f'<div class="small muted">cancelled by {esc(c.get("by"))}: {esc(c.get("reason"))}</div>'
            )
        task = f"<td>{esc(job.task.label)}</td>" if with_task else ""
        rows.append(
            f"<tr>{task}<td>{esc(job.task.operator)}</td><td><code>{esc(job.key)}</code></td>"
            f"<td>{esc(job.generation)}</td><td><code>{esc(job.token)}</code></td><td>{external}</td>"
            f"<td>{_pill(job.recorded_state)}{cancelled}</td><td>{when(job.submitted_at)}</td></tr>"
        )
    head = "<th>Task</th>" if with_task else ""
    return (
        f"<table><thead><tr>{head}<th>Operator</th><th>Key</th><th>Generation</th><th>Token</th>"
        "<th>External id</th><th>Recorded state</th><th>Submitted</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def progress_html(progress: TaskProgress, now: datetime | None = None) -> str:
    """The task instance tab: every Checkpointer and job intent of the task instance."""
    now = now or datetime.now(tz=timezone.utc)
    task = progress.task
    parts = [f"<div>{_pill(task.state)} <span class='muted small'>try {esc(task.try_number)}</span></div>"]
    if progress.checkpoints:
        parts.append("<h2>Checkpoints</h2>")
        parts += [_checkpoint_card(c, task.running, now) for c in progress.checkpoints]
    if progress.jobs:
        parts.append("<h2>Durable jobs</h2>")
        parts.append(_job_rows(progress.jobs, progress.links))
    if not progress.checkpoints and not progress.jobs:
        parts.append(
            '<p class="muted">This task instance has no Checkpointer record and no durable job intent '
            "(yet).</p>"
        )
    refresh = REFRESH_SECONDS if not task.finished else 0
    title = f"Progress of {task.label}"
    return page(title, "".join(parts), refresh=refresh, subtitle=esc(f"{task.dag_id} / {task.run_id}"))


def _run_progress(cps: list[CheckpointRecord], running: bool, now: datetime) -> tuple[str, str]:
    """The Progress and Time left cells of a task's row: over all its checkpoints, when each has a total."""
    if not cps or any(c.total is None for c in cps):
        unknown = "<td data-v=''>—</td>" if cps else "<td data-v=''></td>"
        return unknown, unknown
    done = sum(c.items_done for c in cps)
    total = sum(c.total or 0 for c in cps)
    percent = 100.0 if total == 0 else min(100.0, 100.0 * done / total)
    cell = (
        f"<td data-v='{percent:.1f}'><div class='bar mini' role='progressbar' aria-valuenow='{done}' "
        f"aria-valuemax='{total}'><i style='width:{percent:.1f}%'></i></div>"
        f"<span class='small'>{percent:.0f}% of {number(total)}</span></td>"
    )
    lefts = [c.time_left(age_seconds(c.updated_at, now)) for c in cps]
    if all(c.items_left == 0 for c in cps):
        left_cell = "<td data-v='0'>0 s</td>"
    elif not running:
        left_cell = "<td data-v=''>—</td>"
    elif any(x is None for x in lefts):
        left_cell = "<td data-v=''>unknown</td>"
    else:
        worst = max(x or 0.0 for x in lefts)
        left_cell = f"<td data-v='{int(worst)}'>≈ {duration(worst)}</td>"
    return cell, left_cell


def _run_row(progress: TaskProgress, now: datetime) -> str:
    task = progress.task
    cps = progress.checkpoints
    done = sum(c.items_done for c in cps)
    rates = [c.rate for c in cps if c.rate is not None]
    ages = [a for c in cps if (a := age_seconds(c.updated_at, now)) is not None]
    age = min(ages) if ages else None
    keys = ", ".join(c.key for c in cps) or "—"
    jobs = "; ".join(
        f"{j.key}={show(j.external_id) if j.external_id is not None else '—'} (g{j.generation or '-'}, "
        f"{j.recorded_state})"
        for j in progress.jobs
    )
    tries = task.try_number or 0
    bar, left = _run_progress(cps, task.running, now)
    return (
        f'<tr data-task="{esc(task.task_id)}" data-map-index="{task.map_index}">'
        f"<td>{esc(task.task_id)}</td><td data-v='{task.map_index}'>"
        f"{'' if task.map_index < 0 else task.map_index}</td>"
        f'<td data-v="{esc(task.state or "")}">{_pill(task.state)}</td><td data-v="{tries}">{tries}</td>'
        f"<td>{esc(keys)}</td><td data-v='{done}'>{number(done) if cps else '—'}</td>{bar}"
        f"<td data-v='{sum(rates) if rates else ''}'>{number(sum(rates)) if rates else '—'}</td>{left}"
        f"<td data-v='{'' if age is None else int(age)}'>{duration(age)}</td>"
        f"<td class='small'>{esc(jobs or None)}</td></tr>"
    )


def run_html(dag_id: str, run_id: str, tasks: list[TaskProgress], now: datetime | None = None) -> str:
    """The DAG run tab: one row per task and map index, sortable by clicking a column."""
    now = now or datetime.now(tz=timezone.utc)
    rows = "".join(_run_row(p, now) for p in tasks)
    body = (
        '<table data-sortable class="run"><thead><tr><th data-sort>Task</th><th data-sort>Map index</th>'
        "<th data-sort>State</th><th data-sort>Tries</th><th data-sort>Checkpoints</th>"
        "<th data-sort>Items done</th><th data-sort>Progress</th><th data-sort>Rate (items/s)</th>"
        "<th data-sort>Time left</th><th data-sort>Last commit</th>"
        f"<th data-sort>Jobs</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    active = any(not p.task.finished for p in tasks)
    return page(
        f"Resumable state of {run_id}",
        body,
        refresh=REFRESH_SECONDS if active else 0,
        subtitle=esc(dag_id) + " · click a column to sort",
    )


def _timeline(asset: AssetWatermarks) -> str:
    """An inline SVG: one lane per key, a dot per commit and a red triangle per rewind (hover for who/why)."""
    events = asset.history
    if not events:
        return ""
    keys = sorted({e.key for e in events})
    start, end = events[0].at.timestamp(), events[-1].at.timestamp()
    span = max(end - start, 1.0)
    width, left, lane = 720, 150, 26
    height = lane * len(keys) + 24
    parts = [
        f'<svg class="timeline" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">'
    ]
    for i, key in enumerate(keys):
        y = 14 + i * lane
        parts.append(f'<text x="0" y="{y + 4}">{esc(key[:22])}</text>')
        parts.append(
            f'<line x1="{left}" y1="{y}" x2="{width - 10}" y2="{y}" stroke="currentColor" '
            'stroke-opacity=".2"/>'
        )
    for e in events:
        x = left + (e.at.timestamp() - start) / span * (width - left - 20)
        y = 14 + keys.index(e.key) * lane
        tip = f"{e.event} {show(e.previous)} → {show(e.value)} at {e.at.isoformat()} by {e.writer}"
        tip += f": {e.reason}" if e.reason else ""
        if e.event == "rewind":
            parts.append(
                f'<path class="rewind" d="M{x:.1f},{y - 7} l6,12 h-12 z" fill="#e53e3e">'
                f"<title>{esc(tip)}</title></path>"
            )
        else:
            parts.append(
                f'<circle class="commit" cx="{x:.1f}" cy="{y}" r="5" fill="#017cee">'
                f"<title>{esc(tip)}</title></circle>"
            )
    parts.append(f'<text x="{left}" y="{height - 2}">{esc(events[0].at.strftime("%Y-%m-%d %H:%M"))}</text>')
    parts.append(
        f'<text x="{width - 10}" y="{height - 2}" text-anchor="end">'
        f"{esc(events[-1].at.strftime('%Y-%m-%d %H:%M'))}</text></svg>"
    )
    return "".join(parts)


def _writer(info: dict[str, Any] | None) -> str:
    if not info:
        return "—"
    if info.get("kind") == "task":
        index = info.get("map_index")
        suffix = f"[{index}]" if isinstance(index, int) and index >= 0 else ""
        return f"task {info.get('dag_id')}/{info.get('run_id')}/{info.get('task_id')}{suffix}"
    return str(info.get("kind"))


def _initial(key: WatermarkKey) -> str | None:
    return None if key.settings is None else show(key.settings.initial)


def _asset_card(asset: AssetWatermarks) -> str:
    view = asset.view
    if asset.problem:
        return f'<div class="card refused"><b>{esc(view.asset_name)}</b><p>{esc(asset.problem)}</p></div>'
    merged = "".join(
        f"<div><span>Merged {esc(name)}</span><code>{esc(show(v))}</code></div>"
        for name, v in view.merged.items()
    )
    rows = "".join(
        f"<tr><td><code>{esc(k.key)}</code></td><td>{esc(k.partition)}</td><td><code>{esc(show(k.value))}</code>"
        f"</td><td>{esc(k.operation)}</td><td>{when(k.committed_at)}</td>"
        f"<td class='lag'>{esc(k.lag_text)}</td><td class='settle'>{esc(k.settle_text)}</td>"
        f"<td>{esc(_initial(k))}</td><td>{esc(k.writer)}</td>"
        f"<td>{esc(_writer(asset.last_writer.get(k.key)))}</td><td class='small'>"
        f"{esc(', '.join(f'{a}={b}' for a, b in k.summary.items()) or None)}</td></tr>"
        for k in view.keys
    )
    history = "".join(
        f'<tr class="ev-{e.event}"><td>{when(e.at)}</td><td class="{e.event}">{esc(e.event)}</td>'
        f"<td><code>{esc(e.key)}</code></td><td><code>{esc(show(e.previous))}</code> → "
        f"<code>{esc(show(e.value))}</code></td><td>{esc(e.writer)}</td><td>{esc(e.reason)}</td></tr>"
        for e in reversed(asset.history)
    )
    return (
        f'<div class="card asset" data-asset="{esc(view.asset_name)}"><b>{esc(view.asset_name)}</b> '
        f'<span class="muted small">{esc(view.asset_uri)}</span><div class="grid">{merged}</div>'
        "<table><thead><tr><th>Key</th><th>Partition</th><th>Value</th><th>Last operation</th>"
        "<th>Committed</th><th>Lag</th><th>Settle</th><th>Initial</th><th>Writer (recorded)</th>"
        "<th>Last writer (Airflow)</th><th>Summary</th></tr>"
        f"</thead><tbody>{rows}</tbody></table>{_timeline(asset)}"
        "<table class='history'><thead><tr><th>When</th><th>Event</th><th>Key</th><th>Change</th>"
        f"<th>Who</th><th>Why</th></tr></thead><tbody>{history}</tbody></table></div>"
    )


def watermarks_html(assets: list[AssetWatermarks]) -> str:
    """The Watermarks page: every asset with a Watermark, its keys, merged values and kept history."""
    if not assets:
        body = '<p class="muted">No asset holds a Watermark record yet.</p>'
    else:
        body = "".join(_asset_card(a) for a in assets)
    return page(
        "Watermarks",
        body,
        refresh=10,
        subtitle="Every asset with a Watermark: kept history is each key's last commit and its last rewinds",
    )
