"""`python -m fundguard.knowledge_base.importer SRC OUT_DIR`: write bundle.json + review_report.md there."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import OverrideError, SourceError, import_points, render_report, write_bundle

REPORT_NAME = "review_report.md"
BUNDLE_NAME = "bundle.json"


def main(argv: list[str] | None = None) -> int:
    """Import, write both files, print the headline; exit 2 on a bad source or override table."""
    parser = argparse.ArgumentParser(prog="python -m fundguard.knowledge_base.importer", description=__doc__)
    parser.add_argument("src", type=Path, help="folder holding knowledge_points.jsonl and its companions")
    parser.add_argument("out_dir", type=Path, help="where to write bundle.json and review_report.md")
    parser.add_argument("--revision", type=int, default=1, help="bundle revision (default 1)")
    parser.add_argument("--overrides", type=Path, default=None, help="override table (default: shipped)")
    parser.add_argument(
        "--exclude-batch", action="append", default=[], metavar="TAG", help="leave out a batch (repeatable)"
    )
    args = parser.parse_args(argv)
    try:
        result = import_points(args.src, args.revision, overrides=args.overrides, exclude_batches=args.exclude_batch)
    except (SourceError, OverrideError) as exc:
        print(f"import failed: {exc}", file=sys.stderr)
        return 2
    write_bundle(result.bundle, args.out_dir / BUNDLE_NAME)
    (args.out_dir / REPORT_NAME).write_text(render_report(result.report), encoding="utf-8")
    print(result.report.headline)
    return 0


if __name__ == "__main__":
    sys.exit(main())
