"""The child process of the drop-folder crash test: `python drop_folder_child.py DIR` serves the drop folder DIR on
the embedded default KB until SIGTERM (clean stop) or SIGKILL (the crash under test). Not a test module."""

from __future__ import annotations

import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from types import FrameType

from fundguard.agent.config import DropSettings
from fundguard.agent.kb import KbStore
from fundguard.agent.service import CheckService
from fundguard.agent.transport.drop_folder import DropFolderListener
from fundguard.knowledge_base import default_bundle_path


def main(folder: Path) -> int:
    """Serve `folder` until SIGTERM."""
    store = KbStore()
    store.load(default_bundle_path())
    listener = DropFolderListener(DropSettings(folder, poll_seconds=0.2), CheckService(store), datetime.now)
    stop = threading.Event()

    def _on_term(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_term)
    listener.start()
    stop.wait()
    listener.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
