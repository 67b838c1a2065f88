"""Timing scripts that print figures and never assert: `python -m bench` (`make bench`).

Modules: `encounters` (the realistic 10-, 50- and 200-line requests; `kb_codes` picks their codes from the KB),
`payloads` (the same encounter as 3101 JSON and HL7 v2), `engine_bench` (KB load and `check()` latency), `servers`
(the agent, its thread-pool variant `sync_server`, the national gateway, MLLP and bare echo servers, in-process or in
a child process), `grpc_bench` (client-observed Check vs echo), `throughput` (calls/s against requests in flight),
`agent_profile` (where the handler's time goes), `steps` (throughput, trace, uplink, history as parts of the run),
`results` (latest.json and the targets), `plot` (latest.png), `report` (the README's last figures), `stats`.
See bench/README.md.
"""

from __future__ import annotations

__all__: list[str] = []
