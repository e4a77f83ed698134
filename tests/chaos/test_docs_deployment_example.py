"""The "Prove it in a real deployment" example of docs/testing.md runs here, as written on the page."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "deployment" / "test_nightly_export.py"

_spec = importlib.util.spec_from_file_location("docs_example_nightly_export", EXAMPLE)
assert _spec is not None and _spec.loader is not None
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)

test_export_resumes_after_its_worker_is_killed = _module.test_export_resumes_after_its_worker_is_killed
