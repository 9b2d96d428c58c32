from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from plandeck.demo import DEMO_EMAIL, DEMO_PASSWORD
from tests.e2e.pages import LoginPage, ProjectListPage, ProjectPage
from tests.processes import env_for, plandeck_server, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("e2e")
    env = env_for(None, workdir / "data")
    assert run_cli("demo", env=env, cwd=workdir).returncode == 0
    with plandeck_server(env=env, cwd=workdir) as base:
        yield base


def test_demo_project_in_the_browser(page: Page, demo_server: str, screenshots_dir: Path) -> None:
    login = LoginPage(page, demo_server).open("/")
    page.wait_for_url("**/login?next=/")
    login.log_in(DEMO_EMAIL, "not the password")
    assert login.error().inner_text() == "Wrong email or password."
    login.log_in(DEMO_EMAIL, DEMO_PASSWORD)
    page.wait_for_url(demo_server + "/")
    ProjectListPage(page, demo_server).project_link("DEMO").click()
    project = ProjectPage(page)
    page.wait_for_url("**/projects/DEMO")
    assert project.sprint_headings() == [
        "Sprint 9: Real Backend Integration · weeks 1-2",
        "Sprint 10: Production Deployment · weeks 3-4",
        "Sprint 11: Quality & Monitoring · weeks 5-6",
    ]
    assert project.story_rows().count() == 8
    page.screenshot(path=screenshots_dir / "project-demo.png", full_page=True)
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")
    page.goto(demo_server + "/projects/DEMO")
    page.wait_for_url("**/login?next=/projects/DEMO")


def test_unknown_project_shows_an_error_page(page: Page, demo_server: str) -> None:
    LoginPage(page, demo_server).open("/login").log_in(DEMO_EMAIL, DEMO_PASSWORD)
    page.wait_for_url(demo_server + "/")
    response = page.goto(demo_server + "/projects/NOPE")
    assert response is not None
    assert response.status == 404
    assert page.get_by_role("heading", name="Not found").is_visible()
    assert "Traceback" not in page.content()
