"""Plan documents over HTTP against a real server: import (and dry run), export as markdown and JSON."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.live import Caller, LiveServer
from tests.conftest import REPO_ROOT, SHARED

pytestmark = pytest.mark.slow

FIXTURE = SHARED / "fixtures" / "phase3-plan.md"
SMALL = """# Phase 1: Small - Planning

## Sprint 1: First

### Story 1.1: Login (3 pts)
**Priority:** High
**Status:** Not Started

**Tasks:**
- [ ] Form
- [x] Hashing

### Story 1.2: Logout (2 pts)
**Priority:** Low
"""


def _import(caller: Caller, key: str, files: dict[str, bytes], **params: Any) -> Any:
    return caller.client.post(
        f"/projects/{key}/imports",
        files=[("files", (name, data, "text/markdown")) for name, data in files.items()],
        params=params,
    )


def _stories(caller: Caller, key: str) -> list[dict[str, Any]]:
    data = caller.client.get(f"/projects/{key}/export.json").json()
    stories = list(data["backlog"])
    for phase in data["phases"]:
        stories += phase["stories"]
        for sprint in phase["sprints"]:
            stories += sprint["stories"]
    return stories


class TestImport:
    def test_fixture_imports_with_its_repairs_reported(
        self, live: LiveServer, alice: Caller
    ) -> None:
        key = live.project(alice)["key"]
        response = _import(alice, key, {"phase3-plan.md": FIXTURE.read_bytes()})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["dry_run"] is False
        assert body["summary"]["story"]["created"] == 8
        assert body["summary"]["sprint"]["created"] == 3
        assert any("repaired" in w["message"] for w in body["warnings"])
        stories = _stories(alice, key)
        assert len(stories) == 8
        assert sum(s["points"] or 0 for s in stories) == 52

    def test_dry_run_reports_and_writes_nothing(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        response = _import(alice, key, {"small.md": SMALL.encode()}, dry_run="true")
        assert response.status_code == 200, response.text
        assert response.json()["dry_run"] is True
        assert response.json()["summary"]["story"]["created"] == 2
        assert _stories(alice, key) == []

    def test_reimport_updates_and_reports_missing(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        assert _import(alice, key, {"small.md": SMALL.encode()}).status_code == 200
        edited = SMALL.replace("Login (3 pts)", "Login (5 pts)").split("### Story 1.2")[0]
        body = _import(alice, key, {"small.md": edited.encode()}).json()
        assert body["summary"]["story"]["updated"] == 1
        assert body["missing"] == ["1.2"]
        change = next(c for c in body["changes"] if c["key"] == "1.1")
        assert change["fields"]["points"] == [3, 5]
        assert len(_stories(alice, key)) == 2  # kept without prune

    def test_malformed_document_names_file_and_line_and_writes_nothing(
        self, live: LiveServer, alice: Caller
    ) -> None:
        key = live.project(alice)["key"]
        broken = SMALL + "\n### Story 1.1: Again (1 pts)\n"
        response = _import(alice, key, {"broken.md": broken.encode()})
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["file"] == "broken.md"
        assert isinstance(body["line"], int)
        assert "appears twice" in body["detail"]
        assert _stories(alice, key) == []

    def test_value_the_tracker_cannot_hold_changes_nothing(
        self, live: LiveServer, alice: Caller
    ) -> None:
        key = live.project(alice)["key"]
        too_long = SMALL.replace("Logout", "x" * 600)
        response = _import(alice, key, {"plan.md": too_long.encode()})
        assert response.status_code == 422
        assert response.json()["line"] is not None
        assert _stories(alice, key) == []

    def test_a_folder_of_bmad_files_builds_one_project(
        self, live: LiveServer, alice: Caller
    ) -> None:
        key = live.project(alice)["key"]
        folder = REPO_ROOT / "tests" / "planfile" / "samples" / "bmad" / "project"
        files = {
            str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix in {".md", ".yaml", ".yml"}
        }
        response = _import(alice, key, files)
        assert response.status_code == 200, response.text
        assert response.json()["summary"]["story"]["created"] >= 2

    def test_member_may_not_import_and_stranger_sees_nothing(
        self, live: LiveServer, alice: Caller
    ) -> None:
        key = live.project(alice)["key"]
        member = live.member(alice, key, "member")
        stranger = live.signup("stranger")
        assert _import(member, key, {"s.md": SMALL.encode()}).status_code == 403
        assert _import(stranger, key, {"s.md": SMALL.encode()}).status_code == 404

    def test_import_is_in_the_activity_trail(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        _import(alice, key, {"small.md": SMALL.encode()})
        events = alice.client.get(f"/projects/{key}/activity").json()
        items = events["items"] if isinstance(events, dict) else events
        imported = [e for e in items if e["action"] == "imported"]
        assert imported
        assert imported[0]["after"]["file"] == "small.md"
        assert imported[0]["actor_id"] == alice.user["id"]


class TestExport:
    def test_markdown_export_reimports_to_the_same_plan(
        self, live: LiveServer, alice: Caller
    ) -> None:
        key = live.project(alice)["key"]
        _import(alice, key, {"phase3-plan.md": FIXTURE.read_bytes()})
        exported = alice.client.get(f"/projects/{key}/export.md")
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/markdown")
        assert f'filename="{key}.md"' in exported.headers["content-disposition"]
        other = live.project(alice)["key"]
        again = _import(alice, other, {"export.md": exported.content}).json()
        assert again["summary"]["story"]["created"] == 8

        def shape(stories: list[dict[str, Any]]) -> list[Any]:
            return sorted(
                (s["key"], s["title"], s["points"], s["priority"], s["status"], s["moscow"])
                for s in stories
            )

        assert shape(_stories(alice, other)) == shape(_stories(alice, key))

    def test_viewer_exports_one_phase(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        _import(alice, key, {"small.md": SMALL.encode()})
        viewer = live.member(alice, key, "viewer")
        response = viewer.client.get(f"/projects/{key}/export.md", params={"phase": 1})
        assert response.status_code == 200
        assert "Story 1.1" in response.text
        missing = viewer.client.get(f"/projects/{key}/export.md", params={"phase": 7})
        assert missing.status_code == 404

    def test_stranger_cannot_export(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        stranger = live.signup("stranger")
        assert stranger.client.get(f"/projects/{key}/export.json").status_code == 404
