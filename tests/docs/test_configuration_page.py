"""docs/configuration.md against the installed Airflow: every row's option exists, its default and
environment variable are right, and no state store option of the installed Airflow is missing."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

PAGE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
ROW = re.compile(r"^\|\s*`\[(?P<section>[\w.]+)\] (?P<key>\w+)`\s*\|(?P<cells>.*)\|\s*$")


def _cell(text: str) -> str | None:
    text = text.strip()
    if text == "(empty)":
        return ""
    if text == "(none)":
        return None
    assert re.fullmatch(r"`[^`]*`", text), f"write defaults as `code`, (empty) or (none): {text}"
    return text.strip("`")


def _page_rows() -> dict[tuple[str, str], dict[str, Any]]:
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for line in PAGE.read_text().splitlines():
        if m := ROW.match(line):
            default, env, read_by, meaning = (c.strip() for c in m.group("cells").split("|"))
            key = (m.group("section"), m.group("key"))
            assert key not in rows, f"{key} is listed twice"
            rows[key] = {
                "default": _cell(default),
                "env": env.strip("`"),
                "read_by": read_by,
                "text": meaning,
            }
    return rows


def _installed_options() -> dict[str, dict[str, Any]]:
    """Option descriptions of the installed Airflow core (config.yml) and common.io provider."""
    import airflow
    from airflow.providers.common.io.get_provider_info import get_provider_info

    config_yml = Path(airflow.__file__).parent / "config_templates" / "config.yml"
    sections = {name: body["options"] for name, body in yaml.safe_load(config_yml.read_text()).items()}
    for name, body in get_provider_info()["config"].items():
        sections[name] = body["options"]
    return sections


@pytest.fixture(scope="module")
def rows() -> dict[tuple[str, str], dict[str, Any]]:
    found = _page_rows()
    assert len(found) >= 8, "the option tables were not found on the page"
    return found


def test_every_listed_option_exists_with_the_stated_default(rows) -> None:  # type: ignore[no-untyped-def]
    installed = _installed_options()
    for (section, key), row in rows.items():
        assert key in installed.get(section, {}), (
            f"[{section}] {key} is not an option of the installed Airflow"
        )
        default = installed[section][key]["default"]
        assert row["default"] == default, (
            f"[{section}] {key}: page says {row['default']!r}, Airflow {default!r}"
        )
        assert row["text"], f"[{section}] {key}: say what it does"
        assert row["read_by"], f"[{section}] {key}: say which component reads it"


def test_environment_variable_names_are_the_ones_airflow_reads(rows) -> None:  # type: ignore[no-untyped-def]
    from airflow.configuration import conf

    for (section, key), row in rows.items():
        assert row["env"] == conf._env_var_name(section, key)


def test_no_state_store_option_is_missing(rows) -> None:  # type: ignore[no-untyped-def]
    installed = _installed_options()
    expected = {("state_store", key) for key in installed["state_store"]}
    expected |= {
        (section, key) for section in installed for key in installed[section] if "state_store" in key
    }
    assert expected - set(rows) == set()
    assert ("workers", "state_store_backend") in expected  # the scan really looked at [workers]


def test_backend_classes_named_on_the_page_import() -> None:
    for path in set(re.findall(r"`(airflow\.[\w.]+Backend)`", PAGE.read_text())):
        module, _, name = path.rpartition(".")
        assert hasattr(importlib.import_module(module), name), path
