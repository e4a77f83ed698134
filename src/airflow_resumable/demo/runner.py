"""``airflow-resumable demo``: run every story through real Airflow and narrate what each try did.

Stories are the ``STORY`` objects of the ``story_*`` modules in this package, run in ``order``. Each gets a
fresh SQLite metadata database in one throwaway AIRFLOW_HOME; the whole demo runs in this process, so
Airflow starts once.
"""

from __future__ import annotations

import importlib
import pkgutil
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from airflow_resumable.demo.story import Story

__all__ = ["discover", "run_demo"]


def discover() -> list[Story]:
    """Every story shipped in [`airflow_resumable.demo`][airflow_resumable.demo], in order."""
    import airflow_resumable.demo as package

    stories = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("story_"):
            module = importlib.import_module(f"airflow_resumable.demo.{info.name}")
            stories.append(module.STORY)
    return sorted(stories, key=lambda s: s.order)


INSTALL_HINT = "pip install 'airflow-resumable[demo]'"


def run_demo(*, keep: bool = False, only: str | None = None, out: TextIO | None = None) -> int:
    """Run the stories; return 0 if every story that ran turned out as expected (and one ran), else 1.

    A story whose ``requires`` are not installed is reported as skipped, with what to install.
    """
    stream = out or sys.stdout
    started = time.monotonic()

    def say(line: str = "") -> None:
        print(line, file=stream, flush=True)

    home = Path(tempfile.mkdtemp(prefix="airflow-resumable-demo-"))
    say(f"airflow-resumable demo: real Airflow, embedded SQLite, home {home}")
    say("  preparing the metadata database (migrated once, then cached)...")
    from airflow_resumable.testing.sandbox import AirflowSandbox

    sandbox = AirflowSandbox.activate(home)
    say("  importing Airflow and starting its in-process execution API (the first run takes ~10 s)...")
    stories = [s for s in discover() if only is None or only.lower() in s.title.lower()]
    failed: list[str] = []
    skipped: list[str] = []
    for number, story in enumerate(stories, 1):
        say()
        say(f"[{number}/{len(stories)}] {story.title}")
        missing = story.missing()
        if missing:
            say(f"    skipped: needs {', '.join(missing)} ({INSTALL_HINT})")
            skipped.append(story.title)
            continue
        sandbox.fresh(f"story-{number}")
        t0 = time.monotonic()
        try:
            ok = story.run(sandbox, lambda line: say(f"    {line}"))
        except Exception as exc:  # a broken story must not hide the others
            say(f"    error: {type(exc).__name__}: {exc}")
            ok = False
        verdict = "as expected" if ok else "NOT as expected"
        say(f"    -> {verdict} ({time.monotonic() - t0:.1f} s)")
        if not ok:
            failed.append(story.title)
    say()
    total = time.monotonic() - started
    ran = len(stories) - len(skipped)
    not_run = f"; {len(skipped)} skipped (not installed: {INSTALL_HINT})" if skipped else ""
    if failed:
        say(f"{len(failed)} of {ran} stories run did not turn out as expected: {', '.join(failed)}{not_run}")
    elif ran:
        say(f"Ran {ran} of {len(stories)} stories in {total:.0f} s, all as expected{not_run}.")
    else:
        say(f"No story ran{not_run}.")
    if keep:
        say(f"AIRFLOW_HOME kept for inspection: {home} (one sub-folder per story)")
    else:
        shutil.rmtree(home, ignore_errors=True)
    return 1 if failed or not ran else 0
