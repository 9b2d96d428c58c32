"""The deploy files, checked without Docker: the Dockerfile's stages and user, compose's
order of start, and the nginx config through ``nginx -t`` (Debian's nginx)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from plandeck.config import HttpSettings
from tests.conftest import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
COMPILERS = ("build-essential", "gcc", "g++", "clang", "make", "python3-dev", "libpq-dev")


def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile)
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for keyword, rest in _instructions((DEPLOY / "Dockerfile").read_text()):
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, rest))
    return stages


class TestDockerfile:
    def test_two_stages_the_last_on_slim_python(self) -> None:
        stages = _stages()
        assert len(stages) == 2
        assert stages[0][0][1].endswith(" AS builder")
        assert stages[1][0][1] == "python:3.11-slim"

    def test_the_builder_makes_a_wheel_and_a_venv(self) -> None:
        builder = " ".join(rest for keyword, rest in _stages()[0] if keyword == "RUN")
        assert "python -m build --wheel" in builder
        assert "-m venv /opt/plandeck" in builder
        assert "-c constraints.txt" in builder

    def test_the_final_stage_takes_only_the_venv_and_installs_no_compiler(self) -> None:
        final = _stages()[1]
        copies = [rest for keyword, rest in final if keyword == "COPY"]
        assert copies == ["--from=builder /opt/plandeck /opt/plandeck"]
        commands = " ".join(rest for keyword, rest in final if keyword == "RUN")
        assert "apt-get install" not in commands
        assert "pip install" not in commands
        for compiler in COMPILERS:
            assert not re.search(rf"(^|\s){re.escape(compiler)}(\s|$)", commands), compiler

    def test_runs_as_a_user_that_is_not_root(self) -> None:
        users = [rest for keyword, rest in _stages()[1] if keyword == "USER"]
        assert users, "no USER in the final stage"
        user = users[-1].split(":")[0]
        assert user not in {"root", "0"}
        commands = " ".join(rest for keyword, rest in _stages()[1] if keyword == "RUN")
        assert (
            f"useradd --system --uid 10001 --gid plandeck --home-dir /var/lib/plandeck {user}"
            in commands
        )

    def test_healthcheck_probes_healthz_with_python(self) -> None:
        checks = [rest for keyword, rest in _stages()[1] if keyword == "HEALTHCHECK"]
        assert len(checks) == 1
        assert "urllib.request" in checks[0]
        assert "/healthz" in checks[0]
        assert "curl" not in checks[0]

    def test_serves_in_production_on_all_interfaces(self) -> None:
        (command,) = [rest for keyword, rest in _stages()[1] if keyword == "CMD"]
        assert command.startswith('["plandeck", "serve", "--production", "--host", "0.0.0.0"')

    def test_dockerignore_sends_only_what_the_build_needs(self) -> None:
        lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
        assert "**" in lines
        kept = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
        assert kept == {"pyproject.toml", "constraints.txt", "README.md", "src"}
        copied = " ".join(rest for keyword, rest in _stages()[0] if keyword == "COPY")
        for name in kept:
            assert name in copied


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


class TestCompose:
    def test_services(self, compose: dict[str, Any]) -> None:
        assert set(compose["services"]) == {"migrate", "app", "postgres", "redis", "nginx"}
        assert compose["services"]["postgres"]["image"].startswith("postgres:16")

    def test_app_starts_after_migrations_completed(self, compose: dict[str, Any]) -> None:
        app, migrate = compose["services"]["app"], compose["services"]["migrate"]
        assert app["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert migrate["command"] == ["plandeck", "migrate"]
        assert migrate["restart"] == "no"
        assert migrate["image"] == app["image"], "the same release migrates and serves"

    def test_app_configuration(self, compose: dict[str, Any]) -> None:
        env = compose["services"]["app"]["environment"]
        assert env["PLANDECK_ENVIRONMENT"] == "production"
        assert "PLANDECK_SERVER_WORKERS" in env
        assert env["PLANDECK_DATABASE_URL"].startswith("postgresql://")
        assert env["PLANDECK_REDIS_URL"] == "redis://redis:6379/0"
        assert env["PLANDECK_SERVER_ALLOWED_HOSTS"]
        assert "ports" not in compose["services"]["app"], "only nginx is reachable"

    def test_postgres_keeps_its_data_and_reports_health(self, compose: dict[str, Any]) -> None:
        postgres = compose["services"]["postgres"]
        assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])
        assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
        assert compose["services"]["migrate"]["depends_on"]["postgres"] == {
            "condition": "service_healthy"
        }

    def test_nginx_gets_the_config_and_certificates(self, compose: dict[str, Any]) -> None:
        nginx = compose["services"]["nginx"]
        assert "./nginx/plandeck.conf:/etc/nginx/conf.d/default.conf:ro" in nginx["volumes"]
        assert "./certs:/etc/nginx/certs:ro" in nginx["volumes"]
        assert set(nginx["ports"]) == {"80:80", "443:443"}


NGINX_CONF = (DEPLOY / "nginx" / "plandeck.conf").read_text()


class TestNginx:
    def test_body_limit_matches_the_app(self) -> None:
        (limit,) = re.findall(r"client_max_body_size\s+(\d+)m;", NGINX_CONF)
        assert int(limit) * 1024 * 1024 == HttpSettings().max_body_bytes

    def test_forwarded_headers_and_request_id(self) -> None:
        for header in ("X-Forwarded-For", "X-Forwarded-Proto", "X-Request-ID"):
            assert f"proxy_set_header {header} " in NGINX_CONF
        assert "proxy_set_header Host $host;" in NGINX_CONF
        assert '""      $request_id;' in NGINX_CONF

    def test_http_redirects_to_https(self) -> None:
        assert "return 301 https://$host$request_uri;" in NGINX_CONF

    def test_config_passes_nginx_t(self, tmp_path: Path) -> None:
        nginx = shutil.which("nginx") or (
            "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
        )
        if nginx is None:
            pytest.skip("Debian's nginx is not installed (apt-get install nginx-light)")
        if shutil.which("openssl") is None:
            pytest.skip("openssl is not installed")
        certs = tmp_path / "certs"
        certs.mkdir()
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                "-subj", "/CN=localhost",
                "-keyout", str(certs / "privkey.pem"), "-out", str(certs / "fullchain.pem"),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        # What differs outside compose: the app's address (nginx -t resolves it), the
        # certificates' and the log's paths.
        conf = (
            NGINX_CONF.replace("server app:8000", "server 127.0.0.1:8000")
            .replace("/etc/nginx/certs", str(certs))
            .replace("/var/log/nginx", str(tmp_path))
        )
        assert conf != NGINX_CONF
        (tmp_path / "plandeck.conf").write_text(conf)
        (tmp_path / "nginx.conf").write_text(
            f"pid {tmp_path}/nginx.pid;\n"
            f"error_log {tmp_path}/error.log;\n"
            "events {}\n"
            f"http {{ include {tmp_path}/plandeck.conf; }}\n"
        )
        result = subprocess.run(
            [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "test is successful" in result.stderr
