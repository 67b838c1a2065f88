"""Preflight of a release before it goes live: run with the release's own Python, it imports the whole agent and
validates the config with that release's settings model.

`python -m fundguard.installer.preflight CONFIG` exits 0 and prints the fundguard version when the release can
serve this config; else exit 2 with one `key: problem` line per defect (or the import error). The installer runs
it after making a release and before switching to it, so an upgrade whose new version refuses the kept config, or a
release that cannot import, never replaces the running one. This is the one installer module that imports the agent
(lazily: the rest of the package runs on a bare python3 before any venv exists).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

__all__ = ["main"]

EXIT_OK = 0
EXIT_FAILED = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Check the release against the config file named in ARGV; the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m fundguard.installer.preflight CONFIG", file=sys.stderr)
        return EXIT_FAILED
    try:
        import fundguard.agent.app  # noqa: F401, PLC0415 - the whole agent imports (grpc, generated proto …)
        from fundguard.agent.config import ConfigError, load_settings  # noqa: PLC0415
    except ImportError as exc:
        print(f"the release cannot import the agent: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        load_settings(Path(args[0]))
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return EXIT_FAILED
    print(metadata.version("fundguard"))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
