"""Timing scripts that print figures and never assert: `python -m bench` (`make bench`).

Modules: `encounters` (the realistic 10- and 50-line requests; `kb_codes` picks their codes from the KB), `engine_bench`
(KB load and `check()` latency), `servers` (the agent and bare echo servers, in-process or in a child process),
`grpc_bench` (client-observed Check vs echo), `agent_profile` (where the handler's time goes), `stats`.
"""

from __future__ import annotations

__all__: list[str] = []
