"""Fetch the front-end files plandeck vendors from the npm registry, at pinned versions.

Each package's tarball is checked against the registry's SHA-512 integrity before a file
is taken from it. The page scripts (htmx, SortableJS) are committed under
``src/plandeck/web/static/vendor/`` and re-fetched only to upgrade them; axe-core, which
only the browser tests inject, is fetched by ``make test`` into ``tests/e2e/vendor/``
(not committed).

    python scripts/vendor_assets.py            # the page scripts
    python scripts/vendor_assets.py --tests    # axe-core for the browser tests
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = "https://registry.npmjs.org"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str  # the registry's dist.integrity (SRI, sha512)
    files: dict[str, str]  # path in the tarball -> file name in the destination
    destination: Path

    @property
    def tarball(self) -> str:
        return f"{REGISTRY}/{self.name}/-/{self.name.split('/')[-1]}-{self.version}.tgz"


STATIC = ROOT / "src" / "plandeck" / "web" / "static" / "vendor"
PAGE_PACKAGES = (
    # htmx 2: the stable line (4.0 changed the attribute and event model a month ago).
    Package(
        "htmx.org",
        "2.0.11",
        "sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA==",
        {"package/dist/htmx.min.js": "htmx.min.js", "package/LICENSE": "htmx.LICENSE"},
        STATIC,
    ),
    Package(
        "sortablejs",
        "1.15.7",
        "sha512-Kk8wLQPlS+yi1ZEf48a4+fzHa4yxjC30M/Sr2AnQu+f/MPwvvX9XjZ6OWejiz8crBsLwSq8GHqaxaET7u6ux0A==",
        {"package/Sortable.min.js": "Sortable.min.js", "package/LICENSE": "Sortable.LICENSE"},
        STATIC,
    ),
)
TEST_PACKAGES = (
    Package(
        "axe-core",
        "4.14.1",
        "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==",
        {"package/axe.min.js": "axe.min.js"},
        ROOT / "tests" / "e2e" / "vendor",
    ),
)


def _check_integrity(package: Package, data: bytes) -> None:
    algorithm, _, expected = package.integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        raise SystemExit(
            f"error: {package.name}@{package.version}: the tarball's {algorithm} is {actual}, "
            f"the pinned integrity says {expected}"
        )


def fetch(package: Package) -> list[Path]:
    wanted = [package.destination / name for name in package.files.values()]
    if all(path.exists() for path in wanted):
        return []
    with urllib.request.urlopen(package.tarball, timeout=60) as response:
        data = response.read()
    _check_integrity(package, data)
    package.destination.mkdir(parents=True, exist_ok=True)
    written = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member, name in package.files.items():
            extracted = archive.extractfile(member)
            if extracted is None:
                raise SystemExit(f"error: {package.name}@{package.version} has no {member}")
            target = package.destination / name
            target.write_bytes(extracted.read())
            written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--tests", action="store_true", help="fetch what the tests inject")
    args = parser.parse_args(argv)
    for package in TEST_PACKAGES if args.tests else PAGE_PACKAGES:
        for path in fetch(package):
            sys.stdout.write(f"{package.name}@{package.version} -> {path.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
