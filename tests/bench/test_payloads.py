"""The bench's encounter on the national JSON and HL7 v2 wires decodes to the same patient, encounter and lines."""

from __future__ import annotations

import json

from bench.encounters import build_encounters
from bench.payloads import hl7_frame, hl7_message, national_3101
from fundguard.adapters.his import hl7v2, nhsa_json
from fundguard.agent.engine import CompiledKB
from fundguard.agent.intake import parse_request


def test_3101_envelope_carries_the_same_request_and_its_history(default_kb: CompiledKB) -> None:
    """The 3101 envelope decodes to one request equal to the bench request (patient, encounter, every line, the
    earlier encounter), with the date of service taken from inf_time."""
    ten, _ = build_encounters(default_kb)
    (decoded,) = nhsa_json.decode(national_3101(ten.request))
    expected = parse_request(ten.request)
    assert expected.request.patient == decoded.request.patient
    assert expected.request.encounter == decoded.request.encounter
    assert expected.request.history == decoded.request.history
    assert expected.service_date == decoded.service_date
    assert "3101" == json.loads(national_3101(ten.request))["infno"]


def test_hl7_message_carries_the_current_lines(default_kb: CompiledKB) -> None:
    """The RDE^O11 decodes to the same patient, encounter id and current lines (codes, quantities, prices), and
    the MLLP frame wraps it in VT … FS CR."""
    ten, _ = build_encounters(default_kb)
    decoded = hl7v2.decode(hl7_message(ten.request)).request
    expected = parse_request(ten.request).request
    current = [(o.rx_id, o.hilist_code, o.cnt, o.pric) for o in expected.encounter.orders if o.current]
    assert current == [(o.rx_id, o.hilist_code, o.cnt, o.pric) for o in decoded.encounter.orders]
    assert (expected.patient.gend, expected.encounter.mdtrt_id) == (decoded.patient.gend, decoded.encounter.mdtrt_id)
    frame = hl7_frame(ten.request)
    assert (b"\x0b", b"\x1c\r") == (frame[:1], frame[-2:])
