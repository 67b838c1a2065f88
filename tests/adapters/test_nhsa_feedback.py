"""National 3103 feedback decoding: decisions out, every bad field named with its national path."""

from __future__ import annotations

from typing import Any

import pytest

from fundguard.adapters.his.nhsa_feedback import decode_feedback
from fundguard.agent.engine.errors import InvalidField
from fundguard.agent.feedback import Decision


def feedback(*warns: Any, warn_type: Any = "1") -> dict[str, Any]:
    return {"infno": "3103", "input": {"data": {"warn_type": warn_type, "warns": list(warns)}}}


def test_decisions_from_envelope_input_or_data() -> None:
    """warn_rslt_id is the jr_id; numbers are tolerated; one warn object is a list of one."""
    doc = feedback({"warn_rslt_id": "J-1", "dspo_way": 1, "dspo_way_rea": "患者知情同意"},
                   {"warn_rslt_id": "J-2", "dspo_way": "2"}, warn_type=2)  # fmt: skip
    expected = [Decision("J-1", "1", "患者知情同意", "2", "nhsa-3103", "T"),
                Decision("J-2", "2", "", "2", "nhsa-3103", "T")]  # fmt: skip
    assert expected == decode_feedback(doc, source="nhsa-3103", decided_at="T")
    single = {"data": {"warn_type": "1", "warns": {"warn_rslt_id": "J-3", "dspo_way": "2"}}}
    assert ["J-3"] == [d.jr_id for d in decode_feedback(single, source="s", decided_at="T")]


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        (feedback({"warn_rslt_id": "J-1", "dspo_way": "1"}), "input.data.warns[0].dspo_way_rea"),
        (feedback({"warn_rslt_id": "J-1", "dspo_way": "3"}), "input.data.warns[0].dspo_way"),
        (feedback({"dspo_way": "2"}), "input.data.warns[0].warn_rslt_id"),
        (feedback({"warn_rslt_id": "J", "dspo_way": "2"}, {"warn_rslt_id": "J", "dspo_way": "2"}),
         "input.data.warns[1].warn_rslt_id"),
        (feedback(warn_type="9"), "input.data.warn_type"),
        (feedback(), "input.data.warns"),
        (feedback("x"), "input.data.warns[0]"),
        ({"infno": "3101", "input": {"data": {}}}, "infno"),
        ({"input": []}, "input"),
    ],
)
def test_bad_feedback_names_the_field(doc: dict[str, Any], field: str) -> None:
    """Each defect is an InvalidField naming the national path."""
    with pytest.raises(InvalidField) as err:
        decode_feedback(doc, source="s", decided_at="T")
    assert field == err.value.field
