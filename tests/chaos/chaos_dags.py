"""DAG sources and readers for the chaos tier.

Each DAG records what its task does in a plain file (``<try> <item> <unix time>`` per item, written when
the item's work is done), so a test can tell exactly which items each try did after real processes were
killed: the state store only shows the last position, the file shows every redo and every skip.
"""

from __future__ import annotations

import textwrap
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

CHECKPOINT_DAG = """
import time
from datetime import timedelta
from pathlib import Path

from airflow.sdk import dag, task, get_current_context

from airflow_resumable import Checkpointer, every

OUT = Path({out!r})


@dag(dag_id={dag_id!r}, schedule=None, catchup=False)
def chaos():
    @task(retries={retries}, retry_delay=timedelta(seconds=0){task_args})
    def load():
        try_number = get_current_context()["ti"].try_number
        with OUT.open("a", buffering=1) as out:
            print(f"TRY {{try_number}} starts", flush=True)
            with Checkpointer("items", commit=every({cadence})) as ckpt:
                print(f"TRY {{try_number}} resumes at {{ckpt.position}}", flush=True)
                for item in ckpt.iterate(range({items})):
                    time.sleep({sleep})  # the work
                    out.write(f"{{try_number}} {{item}} {{time.time():.3f}}\\n")  # recorded once done

    load()


chaos()
"""


def checkpoint_dag(
    dag_id: str,
    out: Path,
    *,
    items: int = 600,
    cadence: int = 50,
    sleep: float = 0.01,
    retries: int = 2,
    task_args: str = "",
) -> str:
    """A DAG whose task ``load`` walks ``items`` items under a Checkpointer committing every ``cadence``."""
    return textwrap.dedent(
        CHECKPOINT_DAG.format(
            dag_id=dag_id,
            out=str(out),
            items=items,
            cadence=cadence,
            sleep=sleep,
            retries=retries,
            task_args=task_args,
        )
    )


@dataclass
class ItemLog:
    """What the tries of one task did, read from the DAG's output file."""

    items: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    times: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def read(cls, path: Path) -> ItemLog:
        log = cls()
        if not path.exists():
            return log
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) != 3:
                continue  # a line cut short by SIGKILL
            try_number, item, stamp = int(parts[0]), int(parts[1]), float(parts[2])
            log.items[try_number].append(item)
            log.times[try_number].append(stamp)
        return log

    def count(self) -> int:
        return sum(len(v) for v in self.items.values())

    def redone(self, later_try: int) -> list[int]:
        """Items ``later_try`` did that an earlier try had already done."""
        before = {i for t, items in self.items.items() if t < later_try for i in items}
        return [i for i in self.items[later_try] if i in before]

    def tries(self) -> list[int]:
        return sorted(self.items)

    def all_items(self) -> set[int]:
        return {i for items in self.items.values() for i in items}


def wait_for_items(path: Path, count: int, timeout: float = 120) -> None:
    """Wait until try 1 recorded ``count`` items (fails at once if a try 2 started instead)."""
    deadline = time.monotonic() + timeout
    while (log := ItemLog.read(path)).count() < count:
        assert time.monotonic() < deadline, f"the task did not reach {count} items in {timeout} s"
        assert 2 not in log.items, "try 1 ended before it was stopped: see its log"
        time.sleep(0.05)
