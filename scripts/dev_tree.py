"""Make `.dev/src/fundguard` a namespace tree that points at this work tree, for quick edit-test loops.

`make test` installs the package for real; this is only the developer shortcut used by `make dev`.
It symlinks each top-level folder (agent, knowledge_base, ...) under `.dev/src/fundguard/`, regenerates the
proto modules into `.dev/src/fundguard/v1`, and drops a .pth into the dev venv.
"""

from __future__ import annotations

import argparse
import site
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from setup import MAPPED, generate_proto  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", nargs="?", default=str(ROOT / ".dev" / "src"), help="where to build the tree")
    parser.add_argument("--no-pth", action="store_true", help="only build the tree (used for mypy in make test)")
    args = parser.parse_args()
    src = Path(args.dest).resolve()
    ns = src / "fundguard"
    ns.mkdir(parents=True, exist_ok=True)
    for top in MAPPED:
        link = ns / top
        if not link.exists():
            link.symlink_to(ROOT / top, target_is_directory=True)
    generate_proto(src)
    if args.no_pth:
        print(f"tree at {src}")
        return
    pth = Path(site.getsitepackages()[0]) / "fundguard_dev.pth"
    pth.write_text(str(src) + "\n")
    print(f"dev tree at {src}; {pth}")


if __name__ == "__main__":
    main()
