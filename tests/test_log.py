"""Logging: one JSON line per event with ISO time and level; identity masked by one processor everywhere."""

from __future__ import annotations

import contextvars
import io
import json
import logging
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from fundguard.agent.config import LogSettings
from fundguard.agent.engine import model as m
from fundguard.agent.log import (
    bind_check,
    clear_check,
    configure_logging,
    ensure_logging,
    enter_identity,
    leave_identity,
    mask_identity,
    mask_value,
    remember_identity,
    reset_logging,
)
from fundguard.v1 import compliance_pb2 as pb


def masked(**event: Any) -> dict[str, Any]:
    """Run the masking processor on one event."""
    return dict(mask_identity(None, "info", dict(event)))


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """Logging configured at info into a buffer (JSON); reset afterwards."""
    buffer = io.StringIO()
    configure_logging(LogSettings(level="info", json=True), buffer)
    yield buffer
    reset_logging()


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    """The JSON events written so far."""
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("P-12345601", "P-******01"),
        ("110105199001011234", "11**************34"),
        ("P-0001", "******"),
        ("张三丰", "***"),
        (12345678, "12****78"),
    ],
)
def test_mask_value(raw: object, expected: str) -> None:
    """Long values keep two characters at each end; short ones (names) are masked whole."""
    assert expected == mask_value(raw)


def test_top_level_identity_keys_are_masked_and_recorded() -> None:
    """patn_id, patn_name, psn_no, certno and name are masked; mdtrt_id is not identity."""
    event = masked(
        event="x",
        patn_id="P-12345601",
        patn_name="张三丰",
        psn_no="43000011122233",
        certno="",
        name="李四",
        mdtrt_id="E-0001",
    )
    expected = {
        "event": "x",
        "patn_id": "P-******01",
        "patn_name": "***",
        "psn_no": "43**********33",
        "certno": "",
        "name": "**",
        "mdtrt_id": "E-0001",
        "masked": ["patn_id", "patn_name", "psn_no", "name"],
    }
    assert expected == event


def test_nested_identity_is_masked_wherever_it_appears() -> None:
    """Identity keys inside mappings and lists are masked and their paths listed."""
    event = masked(
        event="x",
        request={"patient": {"patn_id": "P-12345601", "gend": "1"}, "history": [{"psn_no": "43000011122233"}]},
    )
    expected_request = {"patient": {"patn_id": "P-******01", "gend": "1"}, "history": [{"psn_no": "43**********33"}]}
    assert expected_request == event["request"]
    assert ["request.patient.patn_id", "request.history[0].psn_no"] == event["masked"]


def test_dataclasses_and_protobuf_messages_are_masked() -> None:
    """A domain Patient or a proto Patient logged whole never renders its raw id."""
    patient = m.Patient("P-12345601", "1", date(1951, 8, 27), "张三丰")
    proto = pb.Patient(patn_id="P-12345601", gend="1")
    event = masked(event="x", patient=patient, proto=proto)
    assert ("P-******01", "***", "P-******01") == (
        event["patient"]["patn_id"],
        event["patient"]["patn_name"],
        event["proto"]["patn_id"],
    )
    assert "P-12345601" not in json.dumps(event, default=str)


def test_identity_value_is_scrubbed_from_other_strings() -> None:
    """A bound patn_id is also replaced inside the event's other strings (e.g. a traceback)."""
    event = masked(event="check failed", patn_id="P-12345601", exception="KeyError: 'P-12345601'")
    assert "KeyError: 'P-******01'" == event["exception"]


def test_capture_logs_with_the_masking_processor() -> None:
    """With structlog's capture_logs and our processor, a bound raw id is never captured."""
    with capture_logs(processors=[mask_identity]) as events:
        structlog.get_logger().bind(patn_id="P-12345601").info("check.done", mdtrt_id="E-1")
    assert [
        {"event": "check.done", "patn_id": "P-******01", "mdtrt_id": "E-1", "log_level": "info", "masked": ["patn_id"]}
    ] == events


def test_json_lines_with_iso_timestamp_and_level(stream: io.StringIO) -> None:
    """Each event is one JSON line with an ISO-8601 UTC timestamp and its level; debug is filtered at info."""
    log = structlog.get_logger("t")
    log.info("agent.started", address="127.0.0.1:50051", patn_id="P-12345601")
    log.debug("check.done")
    log.warning("kb.stale", note="多行\n文本")
    events = lines(stream)
    assert ["agent.started", "kb.stale"] == [e["event"] for e in events]
    assert ["info", "warning"] == [e["level"] for e in events]
    assert "P-******01" == events[0]["patn_id"]
    stamp = datetime.fromisoformat(events[0]["timestamp"])
    assert 0 == stamp.utcoffset().total_seconds()  # type: ignore[union-attr]
    assert 2 == len(stream.getvalue().splitlines())


def test_stdlib_logging_goes_through_the_same_processors(stream: io.StringIO) -> None:
    """Library log records (grpc uses logging) become masked JSON lines too."""
    logging.getLogger("grpc._server").warning("peer gone", extra={"patn_id": "P-12345601"})
    (event,) = lines(stream)
    assert ("peer gone", "warning", "grpc._server", "P-******01") == (
        event["event"],
        event["level"],
        event["logger"],
        event["patn_id"],
    )
    assert "P-12345601" not in stream.getvalue()


def test_console_renderer_also_masks() -> None:
    """With json = false the human-readable renderer gets masked values as well."""
    buffer = io.StringIO()
    configure_logging(LogSettings(level="debug", json=False), buffer)
    try:
        structlog.get_logger().info("check.done", patn_id="P-12345601")
    finally:
        reset_logging()
    assert "P-******01" in buffer.getvalue()
    assert "P-12345601" not in buffer.getvalue()


def test_ensure_logging_installs_the_masked_default(capsys: pytest.CaptureFixture[str]) -> None:
    """Unconfigured, ensure_logging installs info-level masked JSON on stderr (never structlog's dev defaults)."""
    reset_logging()
    try:
        ensure_logging()
        structlog.get_logger().info("check.done", patn_id="P-12345601")
        structlog.get_logger().debug("noise")
    finally:
        reset_logging()
    (event,) = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert ("check.done", "P-******01") == (event["event"], event["patn_id"])


def test_ensure_logging_keeps_an_existing_configuration(stream: io.StringIO) -> None:
    """An explicit configuration (here: a buffer) is left alone."""
    ensure_logging()
    structlog.get_logger().info("kept")
    assert ["kept"] == [e["event"] for e in lines(stream)]


def test_known_values_are_scrubbed_from_nested_strings_and_short_names_too() -> None:
    """A nested identity field's raw value is masked in every other string of the event, however deep; a person's
    name is scrubbed from two characters on."""
    event = masked(event="张三 asked", request={"patient": {"patn_name": "张三", "psn_no": "43000011122233"}},
                   notes=["psn 43000011122233 is 张三"])  # fmt: skip
    assert ("** asked", ["psn 43**********33 is **"]) == (event["event"], event["notes"])


def test_id_and_mobile_numbers_are_masked_anywhere() -> None:
    """ID-number- and mobile-shaped runs are masked in any string, known or not, including an exception text."""
    event = masked(event="lookup", exception="KeyError: '110105194912310021' tel 13912345678")
    assert "KeyError: '11**************21' tel 13*******78" == event["exception"]


def test_identity_in_scope_is_masked_in_stdlib_and_structlog_lines(stream: io.StringIO) -> None:
    """While a check's patient is in scope, a library's stdlib line and a structlog line quoting the name or id
    show them masked; outside the scope the name is ordinary text again."""
    token = enter_identity("P-12345601", "张三丰")
    try:
        logging.getLogger("vendor.lib").warning("no entry for %s (%s)", "张三丰", "P-12345601")
        structlog.get_logger().info("note", text="张三丰")
    finally:
        leave_identity(token)
    structlog.get_logger().info("later", text="张三丰")
    assert ["no entry for *** (P-******01)", "***", "张三丰"] == [e.get("text", e["event"]) for e in lines(stream)]


def test_remembered_identity_is_masked_in_later_events(stream: io.StringIO) -> None:
    """The identity of a failed check is masked in the error log that follows, even without a scope; reset_logging
    forgets it."""
    remember_identity("P-99988877", "李四")
    structlog.get_logger().error("check failed", exception="RuntimeError: 李四 P-99988877")
    assert "RuntimeError: ** P-******77" == lines(stream)[0]["exception"]
    reset_logging()
    assert "李四" == masked(event="李四")["event"]


def test_bound_check_is_on_every_line_of_its_context(stream: io.StringIO) -> None:
    """`bind_check` puts the encounter and the (masked) patient on later lines of the same context, structlog's and
    a library's stdlib ones alike; an event's own `mdtrt_id` wins; another context and `clear_check` see none."""
    log = structlog.get_logger("t")

    def in_check() -> None:
        bind_check("E-0001", "P-12345601")
        log.info("a")
        logging.getLogger("lib").warning("b")
        log.info("c", mdtrt_id="E-0002")
        clear_check()
        log.info("d")

    contextvars.Context().run(in_check)
    contextvars.Context().run(log.info, "e")  # another context (empty, as a new RPC task's would be)
    got = {e["event"]: (e.get("mdtrt_id"), e.get("patn_id")) for e in lines(stream)}
    assert {
        "a": ("E-0001", "P-******01"),
        "b": ("E-0001", "P-******01"),
        "c": ("E-0002", "P-******01"),
        "d": (None, None),
        "e": (None, None),
    } == got
    assert "P-12345601" not in stream.getvalue()
