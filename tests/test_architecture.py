"""Rules of the layout that a reviewer would otherwise have to remember."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "plandeck"
# Domain packages never commit: the unit of work of the request or command does, once.
DOMAIN_PACKAGES = ["plans", "auth", "kit", "models"]


@pytest.mark.parametrize("package", DOMAIN_PACKAGES)
def test_domain_packages_never_commit(package: str) -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{number}"
        for path in (SRC / package).rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\.commit\(", line)
    ]
    assert offenders == []


def test_migrations_do_not_import_the_models() -> None:
    offenders = [
        path.name
        for path in (SRC / "migrations" / "versions").glob("*.py")
        if "plandeck" in path.read_text()
    ]
    assert offenders == []


def test_relationships_raise_on_lazy_load() -> None:
    from sqlalchemy.orm import RelationshipProperty

    from plandeck.models import Base

    lazy = [
        f"{mapper.class_.__name__}.{prop.key}"
        for mapper in Base.registry.mappers
        for prop in mapper.iterate_properties
        if isinstance(prop, RelationshipProperty) and prop.lazy != "raise"
    ]
    assert lazy == []
