"""The reference central platform (`fundguard-central`): the bureau's side of the agent ↔ central link.

It ingests the agents' event uploads over mutual TLS, deduplicated by event id, into a real database (SQLite by
default, PostgreSQL by URL); scores practitioners from sanctions (医保支付资格: 12 points per natural year, 9 suspends,
12 terminates); serves their statuses to every agent by revision (long poll); reports per institution and
practitioner. Modules:

- `schema`, `store`: the tables and the store (events, sanctions, standings, revisions);
- `standing`, `points`, `payloads`, `scoring`: the rules (pure), the points table, what events tell, the scorer;
- `ingest`, `watch`, `server`: upload validation, the long poll, the gRPC service;
- `devcerts`, `report`, `cli`: development certificates, the report, the `fundguard-central` command.
"""

__all__ = [
    "cli",
    "devcerts",
    "ingest",
    "payloads",
    "points",
    "report",
    "schema",
    "scoring",
    "server",
    "standing",
    "store",
    "watch",
]
