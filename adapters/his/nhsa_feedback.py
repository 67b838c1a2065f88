"""National 3103 (事前事中服务反馈服务) JSON → clinician decisions: translation only, no sockets, no clock.

Input `input.data`: `warn_type` ("1" 事前 after 3101, "2" 事中 after 3102) and `warns[]`, each with `warn_rslt_id`
(the `jr_id` of a 3101/3102 result), `dspo_way` ("1" 继续执行医嘱 — reason `dspo_way_rea` required, "2" 返回修改医嘱)
and `dspo_way_rea`. Accepts the whole envelope, `input` or `data`; `warns` may be one object. Errors name the
national field path (`input.data.warns[1].dspo_way_rea`). Output: the national envelope with an empty `output`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fundguard.agent.engine.errors import InvalidField
from fundguard.agent.feedback import Decision
from fundguard.agent.intake import text

__all__ = ["MAX_REASON", "decode_feedback"]

DATA = "input.data"
MAX_REASON = 500  # the national field is C500
WARN_TYPES = frozenset({"1", "2"})
DSPO_WAYS = frozenset({"1", "2"})


def _data(doc: Mapping[str, Any]) -> tuple[Mapping[str, Any], str]:
    infno = text(doc.get("infno"))
    if infno and infno != "3103":
        raise InvalidField(f"transaction {infno!r} is not feedback (3103)", "infno")
    node: Any = doc
    prefix = ""
    if "input" in doc:
        node = doc["input"]
        prefix = "input"
        if not isinstance(node, Mapping):
            raise InvalidField("must be a JSON object", "input")
    if "data" in node:
        node = node["data"]
        prefix = f"{prefix}.data" if prefix else "data"
        if not isinstance(node, Mapping):
            raise InvalidField("must be a JSON object", prefix)
    return node, prefix or DATA


def decode_feedback(doc: Mapping[str, Any], *, source: str, decided_at: str) -> list[Decision]:
    """The decisions a 3103 request carries, or InvalidField naming the first bad field."""
    data, path = _data(doc)
    warn_type = text(data.get("warn_type"))
    if warn_type not in WARN_TYPES:
        raise InvalidField("must be 1 事前 or 2 事中", f"{path}.warn_type")
    warns = data.get("warns")
    if isinstance(warns, Mapping):
        warns = [warns]
    if not isinstance(warns, list) or not warns:
        raise InvalidField("is required (at least one warn)", f"{path}.warns")
    out: list[Decision] = []
    seen: set[str] = set()
    for n, warn in enumerate(warns):
        where = f"{path}.warns[{n}]"
        if not isinstance(warn, Mapping):
            raise InvalidField("must be a JSON object", where)
        jr_id = text(warn.get("warn_rslt_id"))
        if not jr_id:
            raise InvalidField("is required (the jr_id of the 3101/3102 result)", f"{where}.warn_rslt_id")
        if len(jr_id) > 50:
            raise InvalidField("is longer than 50 characters", f"{where}.warn_rslt_id")
        if jr_id in seen:
            raise InvalidField(f"{jr_id!r} appears twice in this request", f"{where}.warn_rslt_id")
        seen.add(jr_id)
        way = text(warn.get("dspo_way"))
        if way not in DSPO_WAYS:
            raise InvalidField("must be 1 继续执行医嘱 or 2 返回修改医嘱", f"{where}.dspo_way")
        reason = text(warn.get("dspo_way_rea"))
        if way == "1" and not reason:
            raise InvalidField("is required when dspo_way is 1 (continue): say why", f"{where}.dspo_way_rea")
        if len(reason) > MAX_REASON:
            raise InvalidField(f"is longer than {MAX_REASON} characters", f"{where}.dspo_way_rea")
        out.append(Decision(jr_id, way, reason, warn_type, source, decided_at))
    return out
