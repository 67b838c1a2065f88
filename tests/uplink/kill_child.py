"""The agent side of the kill test, run as a child process: records events and uploads them, until killed.

`python kill_child.py OUTBOX PORT RUN record` records events (2 ms apart, 7 encounters) while the uploader thread
sends them to the fake central on 127.0.0.1:PORT; before each `record` it writes `B <token>` to stdout, after it
`A <token> <event_id>` — the acknowledgement the caller would have got. `... drain` only uploads, until the outbox
is empty, then writes `DONE` and exits. Lines go straight to the pipe (os.write), so a SIGKILL loses none that
were written.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import structlog

from fundguard.agent.config import UplinkSettings
from fundguard.agent.uplink.outbox import Outbox
from fundguard.agent.uplink.tls import channel
from fundguard.agent.uplink.uploader import Uploader, grpc_send

AGENT = "agent-kill"


def _say(line: str) -> None:
    os.write(1, (line + "\n").encode())


def main() -> None:
    outbox_path, port, run, mode = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))  # stdout is the protocol
    box = Outbox(outbox_path, 256 * 1024 * 1024, clock=lambda: datetime.now(UTC), agent_id=AGENT)
    send = grpc_send(channel(UplinkSettings(central=f"127.0.0.1:{port}", insecure=True)), 5.0)
    up = Uploader(box, send, institution_code="H43070200001", address=f"127.0.0.1:{port}", batch_size=40,
                  base_backoff=0.02, max_backoff=0.2, idle_seconds=0.01, maintain_seconds=0.05)  # fmt: skip
    up.start()
    if mode == "drain":
        while box.depth:
            time.sleep(0.01)
        up.stop()
        _say("DONE")
        return
    n = 0
    while True:
        token = f"{run}-{n}"
        _say(f"B {token}")
        event_id = box.record("check", f"M{n % 7}", "D1", {"token": token})
        _say(f"A {token} {event_id}")
        n += 1
        time.sleep(0.002)


if __name__ == "__main__":
    main()
