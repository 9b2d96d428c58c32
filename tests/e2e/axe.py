"""axe-core, injected into a page by the tests (vendored by ``make test`` from the npm registry)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
SEVERE = ("serious", "critical")


def severe_violations(page: Page) -> list[dict[str, Any]]:
    """The page's accessibility violations of serious or critical impact, by WCAG 2.x A/AA
    rules, each with its rule id, impact and the first offending elements."""
    if not AXE.exists():
        raise AssertionError(
            f"{AXE} is missing: `make test` fetches it (scripts/vendor_assets.py --tests)"
        )
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => {
            const found = await axe.run(document, {
                runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
            });
            return found.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ")),
            }));
        }"""
    )
    return [violation for violation in result if violation["impact"] in SEVERE]
