"""Page weight and board speed of the web UI, on PostgreSQL, in Debian's Chromium.

One run creates a PostgreSQL database, starts ``plandeck serve`` on it (one process, rate
limiting off), and through the API: signs up a user, imports the phase 3 sample plan and
adds sprint 50 with 200 stories (three tasks each, some done). Then:

- **weight**: for each main page, the bytes transferred with ``Accept-Encoding: gzip``: the
  HTML, and the CSS and JavaScript it links (each counted once per page), against the
  budget of 60 KB of JavaScript and CSS per page; web fonts (none are used) would be listed;
- **board, server**: ``GET`` of the 200-story board page, 30 times after 5 warm-ups:
  median and p95 of the response time seen on loopback;
- **board, browser**: the same page loaded in Chromium 10 times (after a warm-up):
  ``responseEnd`` (HTML received), ``domInteractive`` and ``domContentLoadedEventEnd``, the
  point where the deferred scripts (htmx, SortableJS, board.js) have run and cards can be
  dragged: "interactive".

    python bench/bench_pages.py            # results in bench/results/pages-*.json
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_api import create_database, drop_database

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
FIXTURE = ROOT.parent / "shared" / "fixtures" / "phase3-plan.md"
CHROMIUM = os.environ.get("PLANDECK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BUDGET = 60 * 1024
PASSWORD = "bench pages passphrase"
console = Console()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(url: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANDECK_")}
    env.update(
        PLANDECK_DATABASE_URL=url,
        PLANDECK_DATA_DIR=str(workdir),
        PLANDECK_SECRET_KEY=secrets.token_urlsafe(48),
        PLANDECK_RATE_LIMIT_ENABLED="false",
        PLANDECK_LOG_LEVEL="WARNING",
    )
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "plandeck"), "serve", "--port", str(port)],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("plandeck serve did not start")


def seed(base: str) -> tuple[str, str]:
    """The account's email and the project key, with the sample plan and sprint 50."""
    email = f"pages-{uuid.uuid4().hex[:8]}@example.com"
    with httpx.Client(base_url=base + "/api/v1", timeout=60) as api:
        api.post(
            "/auth/register", json={"email": email, "name": "Bench", "password": PASSWORD}
        ).raise_for_status()
        login = api.post("/auth/login", json={"email": email, "password": PASSWORD})
        login.raise_for_status()
        api.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        key = "PAGES"
        api.post("/projects", json={"key": key, "name": "Page weight"}).raise_for_status()
        with FIXTURE.open("rb") as document:
            api.post(
                f"/projects/{key}/imports",
                files={"files": (FIXTURE.name, document, "text/markdown")},
            ).raise_for_status()
        sprint = api.post(
            f"/projects/{key}/sprints", json={"number": 50, "name": "Two hundred stories"}
        )
        sprint.raise_for_status()
        statuses = ["draft", "approved", "in_progress", "review", "done", "blocked"]
        for index in range(200):
            story = api.post(
                f"/projects/{key}/stories",
                json={
                    "title": f"Story {index + 1}: make the board answer quickly",
                    "sprint_id": sprint.json()["id"],
                    "points": index % 8 + 1,
                    "status": statuses[index % len(statuses)],
                },
            )
            story.raise_for_status()
            story_key = story.json()["key"]
            for task in range(3):
                api.post(
                    f"/projects/{key}/stories/{story_key}/tasks",
                    json={"text": f"Task {task + 1}", "done": task < index % 4},
                ).raise_for_status()
    return email, key


_ASSET = re.compile(r'<(?:script[^>]*\ssrc|link[^>]*rel="stylesheet"[^>]*\shref)="(?P<url>[^"]+)"')


def weigh(browser: httpx.Client, path: str) -> dict[str, Any]:
    page = browser.get(path, headers={"Accept-Encoding": "gzip"})
    assets = {}
    for url in dict.fromkeys(match.group("url") for match in _ASSET.finditer(page.text)):
        asset = browser.get(url, headers={"Accept-Encoding": "gzip"})
        assets[url] = {
            "bytes": asset.num_bytes_downloaded,
            "uncompressed": len(asset.content),
            "encoding": asset.headers.get("content-encoding", "identity"),
            "cache_control": asset.headers.get("cache-control"),
        }
    scripts_and_styles = sum(a["bytes"] for a in assets.values())
    fonts = [url for url in assets if url.endswith((".woff", ".woff2", ".ttf", ".otf"))]
    return {
        "status": page.status_code,
        "html_bytes": page.num_bytes_downloaded,
        "html_encoding": page.headers.get("content-encoding", "identity"),
        "assets": assets,
        "js_css_bytes": scripts_and_styles,
        "fonts": fonts,
        "within_budget": scripts_and_styles <= BUDGET,
    }


def board_server_times(browser: httpx.Client, path: str) -> dict[str, float]:
    for _ in range(5):
        browser.get(path).raise_for_status()
    times = []
    for _ in range(30):
        started = time.perf_counter()
        browser.get(path).raise_for_status()
        times.append(1000 * (time.perf_counter() - started))
    times.sort()
    return {
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[int(0.95 * len(times)) - 1], 1),
    }


def board_in_chromium(base: str, email: str, path: str) -> dict[str, Any]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        context = chromium.new_context()
        page = context.new_page()
        page.goto(base + "/login")
        page.locator("#email").fill(email)
        page.locator("#password").fill(PASSWORD)
        page.locator("form[action='/login'] button[type=submit]").click()
        page.wait_for_url(base + "/")
        runs = []
        for attempt in range(11):
            page.goto(base + path, wait_until="load")
            timing = page.evaluate(
                """() => {
                    const n = performance.getEntriesByType("navigation")[0];
                    return {response_end: n.responseEnd, dom_interactive: n.domInteractive,
                            interactive: n.domContentLoadedEventEnd, load: n.loadEventEnd,
                            cards: document.querySelectorAll("[data-key]").length};
                }"""
            )
            if attempt:  # the first load warms the cache up
                runs.append(timing)
        chromium.close()

    def median(name: str) -> float:
        return round(statistics.median(run[name] for run in runs), 1)

    return {
        "runs": len(runs),
        "cards": runs[-1]["cards"],
        "html_received_ms": median("response_end"),
        "dom_interactive_ms": median("dom_interactive"),
        "interactive_ms": median("interactive"),
        "load_ms": median("load"),
    }


def main() -> int:
    name = f"plandeck_pages_{uuid.uuid4().hex[:10]}"
    url = asyncio.run(create_database(name))
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / name
    workdir.mkdir(parents=True, exist_ok=True)
    process, base = _serve(url, workdir)
    try:
        console.print(f"seeding through the API on {base}")
        email, key = seed(base)
        pages = {
            "projects": "/",
            "overview": f"/projects/{key}",
            "phase": f"/projects/{key}/phases/3",
            "analytics": f"/projects/{key}/analytics",
            "board (8 stories)": f"/projects/{key}/sprints/9",
            "board (200 stories)": f"/projects/{key}/sprints/50",
            "backlog": f"/projects/{key}/backlog",
            "story": f"/projects/{key}/stories/9.1",
            "import": f"/projects/{key}/import",
            "members": f"/projects/{key}/members",
            "settings": "/settings",
        }
        with httpx.Client(base_url=base, timeout=60) as browser:
            weights = {"login": weigh(browser, "/login")}
            browser.post("/login", data={"email": email, "password": PASSWORD})
            weights |= {label: weigh(browser, path) for label, path in pages.items()}
            server = board_server_times(browser, f"/projects/{key}/sprints/50")
        chromium = board_in_chromium(base, email, f"/projects/{key}/sprints/50")
    finally:
        process.terminate()
        process.wait(timeout=20)
        asyncio.run(drop_database(name))

    table = Table(title="Bytes transferred per page (gzip)")
    for column in ("page", "status", "HTML", "JS + CSS", "budget 60 KB", "fonts"):
        table.add_column(column)
    for label, found in weights.items():
        table.add_row(
            label,
            str(found["status"]),
            f"{found['html_bytes'] / 1024:.1f} KB",
            f"{found['js_css_bytes'] / 1024:.1f} KB",
            "within" if found["within_budget"] else "OVER",
            ", ".join(found["fonts"]) or "none",
        )
    console.print(table)
    console.print(
        f"board with 200 stories: server {server['median_ms']} ms median, "
        f"{server['p95_ms']} ms p95; Chromium: HTML received {chromium['html_received_ms']} ms, "
        f"interactive {chromium['interactive_ms']} ms ({chromium['cards']} cards, median of "
        f"{chromium['runs']})"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"pages-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(
        json.dumps({"pages": weights, "board_server": server, "board_chromium": chromium}, indent=2)
    )
    console.print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
