"""The built wheel: what it contains, and that it runs from a virtual environment of its own.

The wheel is built offline (``--no-build-isolation``: hatchling is a dev dependency) and
installed with ``--no-deps --no-index`` into a new venv. Its dependencies come from the
test run's environment through a ``.pth`` line appended after the new venv's own
site-packages: installing them anew would download a hundred megabytes from the registry
in every test run. plandeck itself must and does import from the new venv (checked), so
the wheel, not the source tree, is what runs.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from plandeck import __version__, migrate
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
            "--no-deps", "--no-build-isolation", "--no-index", "--wheel-dir", str(out),
            str(REPO_ROOT),
        ],
        check=True,
        capture_output=True,
        text=True,
    )  # fmt: skip
    (built,) = out.glob("plandeck-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True)
    python = root / "bin" / "python"
    subprocess.run(
        [
            str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-deps", "--no-index", str(wheel),
        ],
        check=True,
        capture_output=True,
        text=True,
    )  # fmt: skip
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The dependencies, after the venv's own packages (see the module docstring).
    (Path(site) / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return root


def _clean_env(home: Path, **extra: str) -> dict[str, str]:
    """No variable of the test run (coverage's, PLANDECK_*) reaches the installed command."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), **extra}


def _names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


class TestWheelContents:
    def test_version_in_the_file_name(self, wheel: Path) -> None:
        assert wheel.name.startswith(f"plandeck-{__version__}-py3-none-any")

    @pytest.mark.parametrize(
        "path",
        [
            "plandeck/web/templates/base.html",
            "plandeck/web/static/plandeck.css",
            "plandeck/web/static/vendor/htmx.min.js",
            "plandeck/web/static/vendor/Sortable.min.js",
            "plandeck/web/locales/fa/LC_MESSAGES/messages.po",
            "plandeck/migrations/env.py",
            "plandeck/migrations/script.py.mako",
            "plandeck/demo/phase3-plan.md",
        ],
    )
    def test_contains(self, wheel: Path, path: str) -> None:
        assert path in _names(wheel)

    def test_every_template_static_file_and_migration_of_the_tree(self, wheel: Path) -> None:
        src = REPO_ROOT / "src"
        names = _names(wheel)
        for folder in ("web/templates", "web/static", "web/locales", "migrations/versions"):
            files = [
                p
                for p in (src / "plandeck" / folder).rglob("*")
                if p.is_file() and "__pycache__" not in p.parts
            ]
            assert files, folder
            missing = [
                str(p.relative_to(src)) for p in files if str(p.relative_to(src)) not in names
            ]
            assert not missing, missing

    def test_no_bytecode_or_tests(self, wheel: Path) -> None:
        names = _names(wheel)
        assert not [n for n in names if n.endswith(".pyc") or n.startswith("tests/")]

    def test_entry_point(self, wheel: Path) -> None:
        with zipfile.ZipFile(wheel) as archive:
            (entry,) = [n for n in archive.namelist() if n.endswith("entry_points.txt")]
            assert "plandeck = plandeck.cli.main:main" in archive.read(entry).decode()


def _run_installed(
    venv: Path, program: str, *args: str, cwd: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    """``program`` of the new venv, in ``cwd``, with nothing of the test run's environment."""
    result = subprocess.run(
        [str(venv / "bin" / program), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=_clean_env(cwd, **env),
    )
    assert result.returncode == 0, result.stderr
    return result


class TestInstalledWheel:
    def test_plandeck_imports_from_the_new_venv(self, venv: Path) -> None:
        code = "import plandeck; print(plandeck.__file__)"
        result = _run_installed(venv, "python", "-c", code, cwd=venv)
        assert Path(result.stdout.strip()).is_relative_to(venv), result.stdout

    def test_version(self, venv: Path) -> None:
        result = _run_installed(venv, "plandeck", "--version", cwd=venv)
        assert result.stdout.strip() == f"plandeck {__version__}"

    def test_migrate_creates_the_embedded_database(self, venv: Path, tmp_path: Path) -> None:
        result = _run_installed(
            venv, "plandeck", "migrate", cwd=tmp_path, PLANDECK_DATA_DIR=str(tmp_path)
        )
        assert f"database at revision {migrate.head_revision()}" in result.stdout
        assert (tmp_path / "plandeck.sqlite3").stat().st_size > 0
