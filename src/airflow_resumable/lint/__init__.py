"""A static checker for AIP-103 state anti-patterns in Airflow DAG files.

It reads DAG files as syntax trees and never imports or runs them, and it does not import Airflow, so it is
fast and safe to run in pre-commit and CI. Use it from the command line (``airflow-resumable lint``) or as
a library:

```python
from airflow_resumable.lint import lint_paths

for finding in lint_paths(["dags/"]):
    print(finding.format())
```

The rules, their codes and fixes are in [`RULES`][airflow_resumable.lint.rules.RULES];
``docs/anti-patterns.md`` explains each one.
"""

from __future__ import annotations

from airflow_resumable.lint.checker import lint_source
from airflow_resumable.lint.finding import Finding
from airflow_resumable.lint.rules import RULES, Rule
from airflow_resumable.lint.runner import lint_paths

__all__ = ["RULES", "Finding", "Rule", "lint_paths", "lint_source"]
