"""`make run` as the README tells a newcomer: set-up, migrate, demo, serve."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from plandeck.demo import DEMO_EMAIL, DEMO_PASSWORD
from tests.conftest import REPO_ROOT
from tests.processes import browser_login, env_for, free_port, running

pytestmark = pytest.mark.slow


def test_make_run_serves_health_and_the_demo_project(tmp_path: Path) -> None:
    make = shutil.which("make")
    assert make, "make is part of the set-up contract"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = env_for(None, tmp_path / "data")
    with running(
        [make, "--no-print-directory", "run", f"PORT={port}"],
        env=env,
        cwd=REPO_ROOT,
        ready_url=base + "/healthz",
    ):
        health = httpx.get(base + "/healthz")
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        with browser_login(base, DEMO_EMAIL, DEMO_PASSWORD) as browser:
            home = browser.get("/")
            assert 'href="/projects/DEMO"' in home.text
            demo = browser.get("/projects/DEMO")
        assert demo.status_code == 200
        assert "Real Backend Integration" in demo.text
    assert (tmp_path / "data" / "plandeck.sqlite3").exists(), "data stays in PLANDECK_DATA_DIR"
