"""The knowledge-base importer: NHSA published knowledge points → a KB bundle (format v1) and a review report.

```
result = import_points(Path("shared/nhsa-knowledge-points"))
write_bundle(result.bundle, Path("knowledge_base/default/bundle.json"))
print(render_report(result.report))
```
`python -m fundguard.knowledge_base.importer SRC OUT_DIR` does the same for the committed default bundle.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

from ..durable import replace_file
from ._source import SourceError, read_source, without_batches
from .build import ImportResult, build_bundle
from .overrides import OverrideError, load_overrides
from .report import ImportReport, render_report

__all__ = [
    "ImportReport",
    "ImportResult",
    "OverrideError",
    "SourceError",
    "bundle_bytes",
    "import_points",
    "render_report",
    "write_bundle",
]

BUNDLE_MODE = 0o644  # mkstemp creates 0600; a bundle is world-readable data


def import_points(
    src: Path, revision: int = 1, *, overrides: Path | None = None, exclude_batches: Collection[str] = ()
) -> ImportResult:
    """Read the knowledge points in `src` and build bundle `revision` (shipped override table by default),
    leaving out the points of `exclude_batches` (e.g. `updates_2026-01`: the KB of batches 1–17 only).

    Raises `SourceError` on a missing or malformed source file, an unknown batch to exclude or a kept point that
    supersedes an excluded one, and `OverrideError` on a bad override table (including an entry naming a point the
    source does not have; entries for points of excluded batches are simply unused).
    """
    source = read_source(Path(src))
    table = load_overrides(overrides)
    table.check_against(source.points)
    return build_bundle(without_batches(source, exclude_batches), table, revision)


def bundle_bytes(bundle: dict[str, Any]) -> bytes:
    """The canonical serialisation: sorted keys, no whitespace, UTF-8, one trailing newline."""
    text = json.dumps(bundle, ensure_ascii=False, sort_keys=True, indent=None, separators=(",", ":"))
    return (text + "\n").encode("utf-8")


def write_bundle(bundle: dict[str, Any], path: Path) -> None:
    """Write `bundle` to `path` in its canonical bytes, replacing the file atomically (temp file + rename)."""
    replace_file(Path(path), bundle_bytes(bundle), BUNDLE_MODE)
