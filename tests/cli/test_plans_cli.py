"""plandeck import, export and check, run as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SHARED
from tests.databases import TestDatabase
from tests.processes import env_for, run_cli

pytestmark = pytest.mark.slow
FIXTURE = SHARED / "fixtures" / "phase3-plan.md"


def _content_lines(text: str) -> set[str]:
    return {
        " ".join(line.split())
        for line in text.splitlines()
        if line.strip() and line.strip() != "---"
    }


@pytest.fixture
def env(fresh_database: TestDatabase, tmp_path: Path) -> dict[str, str]:
    env = env_for(fresh_database.url, tmp_path, PLANDECK_PASSWORD="a long enough password")
    created = run_cli(
        "user", "create", "--email", "lead@example.com", "--name", "Lead", env=env, cwd=tmp_path
    )
    assert created.returncode == 0, created.stderr
    return env


class TestCheck:
    def test_fixture_is_a_clean_plan(self, tmp_path: Path) -> None:
        result = run_cli("check", str(FIXTURE), env=env_for(None, tmp_path), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "1 phases, 3 sprints, 8 stories, 52 points; 0 errors" in result.stdout

    def test_errors_exit_non_zero_with_file_and_line(self, tmp_path: Path) -> None:
        plan = tmp_path / "bad.md"
        plan.write_text("# Phase 1: X\n### Sprint 1: A\n#### Story 1.1: One\n#### Story 1.1: Two\n")
        result = run_cli("check", str(plan), env=env_for(None, tmp_path), cwd=tmp_path)
        assert result.returncode == 1
        assert "error: bad.md:4 story 1.1 appears twice (first on line 3)" in result.stderr


class TestImportExport:
    def test_fixture_round_trip_keeps_every_line(self, env: dict[str, str], tmp_path: Path) -> None:
        imported = run_cli("import", str(FIXTURE), "--project", "P3", env=env, cwd=tmp_path)
        assert imported.returncode == 0, imported.stderr
        assert "written to" in imported.stdout
        exported = run_cli("export", "--project", "P3", env=env, cwd=tmp_path)
        assert exported.returncode == 0, exported.stderr
        repaired = run_cli(
            "export", "--project", "P3", "-o", str(tmp_path / "out.md"), env=env, cwd=tmp_path
        )
        assert repaired.returncode == 0
        assert (tmp_path / "out.md").read_text() == exported.stdout
        expected = json.loads((SHARED / "fixtures" / "phase3-plan.expected.json").read_text())
        for heading in expected["repaired_headings"]:
            assert f"## {heading}" in exported.stdout
        # Every line of the repaired original is in the export (whitespace normalised).
        from plandeck.planfile.encoding import decode_document

        original = decode_document(FIXTURE.read_bytes()).text
        assert _content_lines(original) - _content_lines(exported.stdout) == set()

    def test_json_export(self, env: dict[str, str], tmp_path: Path) -> None:
        assert (
            run_cli("import", str(FIXTURE), "--project", "P3", env=env, cwd=tmp_path).returncode
            == 0
        )
        result = run_cli("export", "--project", "P3", "--format", "json", env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        (phase,) = data["phases"]
        assert [s["number"] for s in phase["sprints"]] == [9, 10, 11]
        stories = [story for sprint in phase["sprints"] for story in sprint["stories"]]
        assert sum(s["points"] for s in stories) == 52
        assert sum(len(s["tasks"]) for s in stories) == 39

    def test_dry_run_writes_nothing(self, env: dict[str, str], tmp_path: Path) -> None:
        dry = run_cli("import", str(FIXTURE), "--project", "P3", "--dry-run", env=env, cwd=tmp_path)
        assert dry.returncode == 0, dry.stderr
        assert "created story 9.1" in dry.stdout
        assert "dry run: nothing written" in dry.stdout
        after = run_cli("export", "--project", "P3", env=env, cwd=tmp_path)
        assert after.returncode == 1
        assert "no project 'P3'" in after.stderr

    def test_malformed_document_is_refused_whole(self, env: dict[str, str], tmp_path: Path) -> None:
        plan = tmp_path / "bad.md"
        plan.write_text("# Phase 1: X\n### Sprint 1: A\n#### Story 1.1: One\n**Points:** lots\n")
        result = run_cli("import", str(plan), "--project", "BAD", env=env, cwd=tmp_path)
        assert result.returncode == 1
        assert result.stderr.strip().splitlines()[-1] == (
            "error: bad.md:4: story 1.1: points must be a whole number, not 'lots'"
        )
        assert run_cli("export", "--project", "BAD", env=env, cwd=tmp_path).returncode == 1
