"""The Grafana dashboard and the Prometheus alert rules name only metrics plandeck exports.

The metric names are an interface (``plandeck.ops.metrics``): a renamed metric would leave a
panel empty and an alert silent without any error, so the deploy files are checked against
the list here. ``make check-alerts`` checks the rules' syntax and behaviour with promtool.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "plandeck.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"

METRICS = frozenset(
    {
        "plandeck_http_requests_total",
        "plandeck_http_request_duration_seconds",
        "plandeck_db_pool_connections",
        "plandeck_db_pool_size",
        "plandeck_rate_limit_refusals_total",
        "plandeck_login_failures_total",
        "plandeck_ready",
        "plandeck_story_points",
        "plandeck_stories",
    }
)
HISTOGRAMS = frozenset({"plandeck_http_request_duration_seconds"})
# Series Prometheus makes itself for every target.
PROMETHEUS_OWN = frozenset({"up"})

_FUNCTIONS = frozenset(
    {
        "sum",
        "min",
        "max",
        "avg",
        "count",
        "topk",
        "bottomk",
        "quantile",
        "rate",
        "irate",
        "increase",
        "delta",
        "deriv",
        "histogram_quantile",
        "absent",
        "absent_over_time",
        "max_over_time",
        "min_over_time",
        "avg_over_time",
        "clamp_min",
        "clamp_max",
        "vector",
        "scalar",
        "label_replace",
    }
)
_KEYWORDS = frozenset({"and", "or", "unless", "by", "without", "on", "ignoring", "bool", "offset"})
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")


def is_known(name: str) -> bool:
    if name in METRICS or name in PROMETHEUS_OWN:
        return True
    base, _, suffix = name.rpartition("_")
    return base in HISTOGRAMS and suffix in ("bucket", "sum", "count")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression (with Grafana's ``$variables``) selects."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = _GROUPING.sub(r"\1", expr)  # label lists of by (...), on (...)
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
    expr = re.sub(r"\$\{?\w+\}?", "", expr)  # Grafana variables
    names = set()
    for match in re.finditer(r"[A-Za-z_:][\w:]*", expr):
        word = match.group()
        if word in _FUNCTIONS or word in _KEYWORDS:
            continue
        assert not expr[match.end() :].lstrip().startswith("("), f"unknown function {word}"
        names.add(word)
    return names


class TestMetricNames:
    def test_the_reader_finds_metrics_and_skips_labels_and_functions(self) -> None:
        expr = (
            "histogram_quantile(0.99, sum by (le, route) (rate(plandeck_http_request_duration_"
            'seconds_bucket{instance=~"$instance", route!="up"}[$__rate_interval]))) > 1 and '
            "on (job) up == 0"
        )
        assert metric_names(expr) == {"plandeck_http_request_duration_seconds_bucket", "up"}

    def test_an_unknown_name_is_not_known(self) -> None:
        assert not is_known("plandeck_http_requests")
        assert not is_known("plandeck_ready_bucket")
        assert is_known("plandeck_http_request_duration_seconds_count")


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for panel in panels:
        found.append(panel)
        found += _panels(panel.get("panels", []))
    return found


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


class TestDashboard:
    def test_is_a_current_dashboard(self, dashboard: dict[str, Any]) -> None:
        assert 36 <= dashboard["schemaVersion"] <= 41
        assert dashboard["uid"]
        panels = _panels(dashboard["panels"])
        ids = [panel["id"] for panel in panels]
        assert len(ids) == len(set(ids))
        assert all({"x", "y", "w", "h"} <= set(panel["gridPos"]) for panel in panels)

    def test_every_query_names_only_exported_metrics(self, dashboard: dict[str, Any]) -> None:
        queries = 0
        for panel in _panels(dashboard["panels"]):
            if panel["type"] == "row":
                continue
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "${datasource}", panel["title"]
                names = metric_names(target["expr"])
                assert names, (panel["title"], target["expr"])
                unknown = {name for name in names if not is_known(name)}
                assert not unknown, (panel["title"], unknown)
                queries += 1
        assert queries >= 10

    def test_variables_name_only_exported_metrics(self, dashboard: dict[str, Any]) -> None:
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert variables["datasource"]["query"] == "prometheus"
        for name in ("instance", "project"):
            query = variables[name]["query"]["query"]
            found = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", query)
            assert found, query
            assert is_known(found.group(1))
            assert found.group(2) == name
        assert "plandeck_story_points" in variables["project"]["query"]["query"]

    def test_has_the_panels_an_operator_needs(self, dashboard: dict[str, Any]) -> None:
        titles = {panel["title"] for panel in _panels(dashboard["panels"])}
        assert {
            "Request rate by route",
            "5xx rate by route",
            "Latency p50 / p99",
            "Database pool: in use vs size",
            "Rate-limit refusals",
            "Login failures",
            "Readiness",
            "Story points by status: $project",
        } <= titles
        used = {
            name
            for panel in _panels(dashboard["panels"])
            for target in panel.get("targets", [])
            for name in metric_names(target["expr"])
        }
        shown = {name.removesuffix("_bucket") for name in used}
        assert shown >= METRICS

    @pytest.mark.skipif(not shutil.which("promtool"), reason="promtool: make system-deps")
    def test_every_query_is_valid_promql(self, dashboard: dict[str, Any], tmp_path: Path) -> None:
        """promtool parses each query as a recording rule, Grafana's variables filled in."""
        variables = {"$__rate_interval": "5m", "$instance": ".*", "$project": ".*"}
        rules = []
        for panel in _panels(dashboard["panels"]):
            for target in panel.get("targets", []):
                expr = target["expr"]
                for name, value in variables.items():
                    expr = expr.replace(name, value)
                assert "$" not in expr, expr
                rules.append(
                    {"record": f"dashboard:panel_{panel['id']}:{target['refId']}", "expr": expr}
                )
        rules_file = tmp_path / "dashboard-queries.yml"
        rules_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
        checked = subprocess.run(
            ["promtool", "check", "rules", str(rules_file)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr

    def test_story_points_repeat_per_project(self, dashboard: dict[str, Any]) -> None:
        (points,) = [
            p for p in _panels(dashboard["panels"]) if p["title"].startswith("Story points")
        ]
        assert points["repeat"] == "project"
        assert '$project"' in points["targets"][0]["expr"]


@pytest.fixture(scope="module")
def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


class TestAlertRules:
    def test_every_rule_is_an_alert_with_severity_and_text(
        self, rules: list[dict[str, Any]]
    ) -> None:
        for rule in rules:
            assert rule["alert"].startswith("Plandeck"), rule
            assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
            assert rule["annotations"]["summary"].strip(), rule["alert"]
            assert rule["annotations"]["description"].strip(), rule["alert"]
            assert re.fullmatch(r"\d+[smh]", rule.get("for", "0s")), rule["alert"]

    def test_every_expression_names_only_exported_metrics(
        self, rules: list[dict[str, Any]]
    ) -> None:
        for rule in rules:
            names = metric_names(rule["expr"])
            assert names, rule["alert"]
            unknown = {name for name in names if not is_known(name)}
            assert not unknown, (rule["alert"], unknown)

    def test_covers_errors_latency_readiness_pool_and_logins(
        self, rules: list[dict[str, Any]]
    ) -> None:
        watched = {name for rule in rules for name in metric_names(rule["expr"])}
        assert {
            "plandeck_http_requests_total",
            "plandeck_http_request_duration_seconds_bucket",
            "plandeck_ready",
            "up",
            "plandeck_db_pool_connections",
            "plandeck_db_pool_size",
            "plandeck_login_failures_total",
        } <= watched

    def test_names_are_unique(self, rules: list[dict[str, Any]]) -> None:
        names = [rule["alert"] for rule in rules]
        assert len(names) == len(set(names))
