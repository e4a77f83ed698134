"""Story: a Checkpointer saves progress in batches; try 1 fails part-way, try 2 resumes at the failed item."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from airflow_resumable.demo.story import DAGS, Say, Story

if TYPE_CHECKING:
    from airflow_resumable.testing.sandbox import AirflowSandbox

_LINE = re.compile(r"DEMO try=(\d+) start=(\d+) processed=(\d+) outcome=(\w+) sets=(\d+) deletes=(\d+)")


def run(sandbox: AirflowSandbox, say: Say) -> bool:
    result = sandbox.run_dag(DAGS / "checkpoint_resume.py")
    tries = [
        (int(t), int(start), int(processed), outcome, int(sets), int(deletes))
        for t, start, processed, outcome, sets, deletes in _LINE.findall(result.output)
    ]
    for try_number, start, processed, outcome, sets, deletes in tries:
        last = start + processed - 1
        if outcome == "failed":
            say(f"try {try_number}: processed items {start}-{last} and failed at item {last + 1}")
            say(f"    it saved progress every 100 items and position {last} on the way out: {sets} writes")
        else:
            say(
                f"try {try_number}: started at item {start}, processed the other {processed} items, succeeded"
            )
            say(f"    {sets} write along the way, then {deletes} delete to clear the finished checkpoint")
    writes = sum(sets + deletes for *_, sets, deletes in tries)
    say(f"{writes} store writes in all for 500 items (a write per item would have made 500)")
    keys = result.task_state_keys("load_items")
    say(f"task states per try: {result.states('load_items')}; keys left in task_state_store: {sorted(keys)}")
    expected = [(1, 1, 337, "failed", 4, 0), (2, 338, 163, "succeeded", 1, 1)]
    return result.state == "success" and tries == expected and keys == {}


STORY = Story(
    order=10, title="A Checkpointer resumes a loop at the item that failed, writing in batches", run=run
)
