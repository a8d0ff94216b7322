"""Validating a store with a chosen set of conventions, for convention tests."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from zarr_browser.core.conventions.base import Convention, ConventionRegistry
from zarr_browser.core.hierarchy import Hierarchy
from zarr_browser.core.validate import ValidationReport, validate_hierarchy


def validate_with(
    path: Path | str, conventions: list[Convention], *, keep: Collection[str]
) -> tuple[Hierarchy, ValidationReport, ConventionRegistry]:
    """Validate the store at *path* with *conventions*; keep only issues of the *keep* conventions.

    Fails the test if any convention crashed (an "internal error" issue).
    """
    hierarchy = Hierarchy.open(str(path))
    registry = ConventionRegistry(conventions)
    report = validate_hierarchy(hierarchy, registry)
    assert not [i for i in report.issues if i.message.startswith("internal error")], report.issues
    report.issues = [i for i in report.issues if i.convention in keep]
    return hierarchy, report, registry
