"""A small job service over HTTP, for the provider authors' example (provider_author.py).

``POST /jobs`` starts a job (``{"command": ...}``) and answers its id; a request with an ``Idempotency-Key``
header that was seen before answers the job that key created, as real idempotency keys behave.
``GET /jobs/<id>`` shows ``RUNNING`` for ``running_checks`` status checks, then ``SUCCEEDED`` (or the state
the test set); an unknown id is a 404. ``POST /jobs/<id>/cancel`` cancels. Run it on its own with
``python provider_author_service.py`` (it prints its URL).
"""

from __future__ import annotations

import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class JobService:
    """The service: ``jobs`` holds every job it started (id -> command, key, checks, state)."""

    def __init__(self, running_checks: int = 2) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.running_checks = running_checks
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                self._answer(*service.post(self.path, body, self.headers.get("Idempotency-Key")))

            def do_GET(self) -> None:
                self._answer(*service.get(self.path))

            def _answer(self, status: int, answer: dict[str, Any]) -> None:
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def post(self, path: str, body: dict[str, Any], key: str | None) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if path == "/jobs":
                for job_id, job in self.jobs.items():
                    if key is not None and job["key"] == key:
                        return 200, {"id": job_id}  # the job this key created before
                job_id = f"job-{next(self._ids)}"
                self.jobs[job_id] = {"command": body.get("command"), "key": key, "checks": 0, "state": None}
                return 201, {"id": job_id}
            job_id = path.removeprefix("/jobs/").removesuffix("/cancel")
            if job_id not in self.jobs:
                return 404, {"error": f"no job {job_id}"}
            self.jobs[job_id]["state"] = "CANCELLED"
            return 200, {}

    def get(self, path: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            job = self.jobs.get(path.removeprefix("/jobs/"))
            if job is None:
                return 404, {"error": f"no job {path}"}
            job["checks"] += 1
            state = job["state"] or ("RUNNING" if job["checks"] <= self.running_checks else "SUCCEEDED")
            return 200, {"state": state}


if __name__ == "__main__":
    import time

    print(JobService().url, flush=True)
    while True:
        time.sleep(3600)
