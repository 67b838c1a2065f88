"""Fault injection: each fault is injected into a running agent (built by the composition root) and the tests show it
still serves checks, loses nothing it acknowledged, raises an alarm (`fundguard_alarm{name}`), and recovers.

- disk full on the data disk (decisions, issued alerts, outbox, trace ledger, history): `test_disk_full.py`
  (a real tmpfs filled to ENOSPC);
- a store file locked by another process: `test_locked_store.py`;
- a store file overwritten with garbage: `test_corrupt_store.py` (refuses to start, naming the file and the way back);
- the central platform slow, gone, or losing acknowledgements: `test_central_faults.py`;
- wall-clock jumps: `test_clock_jumps.py`; the KB judged by the date of service: `tests/kb/test_date_of_service.py`;
- a KB bundle half-copied into the inbox is ignored until complete: `tests/kb/test_inbox.py`
  (`test_a_half_copied_bundle_waits_for_the_rest`);
- the agent killed with SIGKILL 20 times under load, nothing lost or duplicated: `tests/test_uplink_kill.py`.
"""
