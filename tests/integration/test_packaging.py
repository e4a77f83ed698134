"""What a user gets from the package index: the built sdist and wheel, and their metadata."""

from __future__ import annotations

import email
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import airflow_resumable

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed, so the sdist and wheel cannot be built here")
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [uv, "build", "--quiet", "--out-dir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode and ("resolve" in result.stderr.lower() or "network" in result.stderr.lower()):
        reason = result.stderr[-300:]
        pytest.skip(f"building needs the build backend from the package index, unreachable: {reason}")
    assert result.returncode == 0, result.stderr
    return out


def _wheel(dist: Path) -> zipfile.ZipFile:
    (wheel,) = dist.glob("*.whl")
    return zipfile.ZipFile(wheel)


def _metadata(dist: Path) -> email.message.Message:
    with _wheel(dist) as wheel:
        name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(wheel.read(name))


def test_version_is_defined_once(dist: Path) -> None:
    assert _metadata(dist)["Version"] == airflow_resumable.__version__
    assert not re.search(r"^version\s*=", (ROOT / "pyproject.toml").read_text(), re.M)
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## [{airflow_resumable.__version__}] - " in changelog


def test_license_is_in_the_sdist_and_the_wheel(dist: Path) -> None:
    with _wheel(dist) as wheel:
        assert any(n.endswith(".dist-info/licenses/LICENSE") for n in wheel.namelist())
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
    assert any(n.endswith("/LICENSE") for n in names)
    assert any(n.endswith("/CHANGELOG.md") for n in names)
    assert "Apache License" in (ROOT / "LICENSE").read_text()
    assert _metadata(dist)["License-Expression"] == "Apache-2.0"


def test_wheel_ships_the_skill_the_demo_dags_and_type_information(dist: Path) -> None:
    with _wheel(dist) as wheel:
        names = set(wheel.namelist())
    assert "airflow_resumable/skill/SKILL.md" in names
    assert "airflow_resumable/py.typed" in names
    assert any(n.startswith("airflow_resumable/demo/dags/") for n in names)
    assert not any(n.startswith(("tests/", "docs/")) for n in names)


def test_wheel_registers_the_console_script_the_pytest_plugin_and_the_provider(dist: Path) -> None:
    with _wheel(dist) as wheel:
        name = next(n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt"))
        text = wheel.read(name).decode()
    assert "airflow-resumable = airflow_resumable.cli:main" in text
    assert "[pytest11]" in text
    provider = "[apache_airflow_provider]\nprovider_info = airflow_resumable.provider_info:get_provider_info"
    assert provider in text


def test_project_urls_and_extras(dist: Path) -> None:
    meta = _metadata(dist)
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert set(urls) >= {"Documentation", "Source", "Changelog", "Issues"}
    assert all(u.startswith("https://") for u in urls.values())
    extras = set(meta.get_all("Provides-Extra") or [])
    assert extras >= {"databricks", "amazon", "demo", "test", "dev", "docs"}
    requires = meta.get_all("Requires-Dist") or []
    tools = [r for r in requires if r.startswith(("mypy", "ruff"))]
    assert tools and all("extra == 'dev'" in r or 'extra == "dev"' in r for r in tools), tools
    moto = [r for r in requires if r.startswith("moto")]
    assert any("demo" in r for r in moto), moto


def test_readme_on_the_index_has_only_absolute_links(dist: Path) -> None:
    description = _metadata(dist).get_payload()
    assert "pip install airflow-resumable" in description
    links = [part.split(")", 1)[0] for part in description.split("](")[1:]]
    assert links and all(link.startswith("https://") for link in links), links
