"""Patient identity never reaches the log unmasked, on any path: a request carrying a patient's name, resident ID
number and mobile number goes through gRPC, the national JSON gateway, HL7 over MLLP and the drop folder, as a bad
request and as a check that fails inside (a misbehaving library: it logs through stdlib `logging`, with a
traceback, then raises); the JSON log captured holds every one of those events and none of the raw values."""

from __future__ import annotations

import copy
import io
import json
import logging
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from fundguard.agent.app import Agent, build_agent
from fundguard.agent.config import LogSettings, load_settings
from fundguard.agent.engine.model import CheckResult
from fundguard.agent.intake import ParsedRequest
from fundguard.agent.log import configure_logging, mask_text, mask_value, reset_logging
from fundguard.knowledge_base import default_bundle_path
from fundguard.v1 import compliance_pb2 as pb
from fundguard.v1 import compliance_pb2_grpc as pb_grpc

from ..hl7_samples import frames, rde_o11
from ..samples import male_iud_3101
from ..test_app import iud_check

NAME = "张三丰"
ID_NUMBER = "110105194912310021"  # 居民身份证号 shape: area 110105, born 1949-12-31
MOBILE = "13912345678"


def misbehaving_library(parsed: ParsedRequest, _result: CheckResult) -> None:
    """An observer standing in for a library bug: for our patient it logs the identity through stdlib logging
    (a message, then a traceback quoting it) and raises an exception whose message quotes it."""
    patient = parsed.request.patient  # HL7 requests carry no name (PID-5 is not read): it quotes what it has
    if patient.patn_id != ID_NUMBER:
        return
    library = logging.getLogger("vendor.index")
    library.warning("no index entry for %s (id %s, tel %s)", patient.patn_name, patient.patn_id, MOBILE)
    try:
        raise LookupError(f"{patient.patn_name}/{patient.patn_id}")
    except LookupError:
        library.exception("index lookup failed")
    raise RuntimeError(f"cannot file the check of {patient.patn_name}, ID {patient.patn_id}, tel {MOBILE}")


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    """Every transport on, check budgets on, logging at debug into a buffer (JSON lines)."""
    settings = load_settings(None, {
        "grpc.address": "127.0.0.1:0", "http.address": "127.0.0.1:0", "mllp.address": "127.0.0.1:0",
        "drop.dir": tmp_path / "drop", "drop.poll_seconds": 0.05, "kb.path": default_bundle_path(),
        "data.dir": tmp_path / "data", "log.level": "debug",
    })  # fmt: skip
    built = build_agent(settings)
    built.service._observers = (*built.service._observers, misbehaving_library)  # the library bug
    built.start()
    try:
        yield built
    finally:
        built.stop(grace=1)


@pytest.fixture
def log_buffer() -> Iterator[io.StringIO]:
    """What the agent logs, as JSON lines."""
    buffer = io.StringIO()
    configure_logging(LogSettings(level="debug", json=True), buffer)
    yield buffer
    reset_logging()


def _address(agent: Agent, name: str) -> str:
    (listener,) = [item for item in agent.listeners if item.name == name]
    return listener.address


def national(*, bad: bool) -> dict[str, Any]:
    """The sample 3101 for our patient; `bad`: with the ID number where the birth date belongs."""
    doc = copy.deepcopy(male_iud_3101())
    patient = doc["input"]["data"]["patient_dtos"][0]
    patient.update(patn_id=ID_NUMBER, patn_name=NAME)
    if bad:
        patient["brdy"] = ID_NUMBER
    return doc


def grpc_calls(address: str) -> None:
    """A bad request (the ID number as the birth date) and one whose check fails inside."""
    good = iud_check()
    good.patient.patn_id, good.patient.patn_name = ID_NUMBER, NAME
    bad = pb.CheckRequest()
    bad.CopyFrom(good)
    bad.patient.brdy = ID_NUMBER
    with grpc.insecure_channel(address) as channel:
        stub = pb_grpc.ComplianceAgentStub(channel)
        for request, code in ((bad, grpc.StatusCode.INVALID_ARGUMENT), (good, grpc.StatusCode.INTERNAL)):
            with pytest.raises(grpc.RpcError) as failed:
                stub.Check(request, timeout=10)
            assert code == failed.value.code()


def http_calls(address: str) -> None:
    """The national gateway: a bad request and one whose check fails inside (both answered infcode -1)."""
    for doc in (national(bad=True), national(bad=False)):
        req = urllib.request.Request(f"http://{address}/3101", data=json.dumps(doc).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert -1 == json.loads(resp.read())["infcode"]


def mllp_calls(address: str) -> None:
    """HL7 v2: an RDE^O11 with a broken birth date (AE), and a good one whose check fails inside (AE)."""
    good = rde_o11(vitamin=False).replace("1058158^^^CDSDERMYY^PI", f"{ID_NUMBER}^^^CDSDERMYY^PI")
    good = good.replace("张^某某", f"{NAME[0]}^{NAME[1:]}")
    bad = good.replace("|19510827|", f"|{ID_NUMBER}X|")
    host, _, port = address.rpartition(":")
    for message in (bad, good):
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(frames(message))
            answer = b""
            while not answer.endswith(b"\x1c\r"):
                answer += sock.recv(65536)
        assert b"MSA|AE" in answer or b"MSA|AR" in answer, answer[:300]


def drop_calls(folder: Path) -> None:
    """Drop folder: a bad request in a file named after the patient's ID number (rejected), and a good one whose
    check fails inside."""
    inbox = folder / "inbox"
    for name, doc in ((f"3101-{ID_NUMBER}.json", national(bad=True)), ("3101-good.json", national(bad=False))):
        part = inbox / f"{name}.part"
        part.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        part.rename(inbox / name)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(list((folder / "rejected").glob("*.json"))) < 2:
        time.sleep(0.05)
    assert 2 == len(list((folder / "rejected").glob("*.json")))


def test_identity_is_masked_on_every_log_path(agent: Agent, log_buffer: io.StringIO) -> None:
    """gRPC, national JSON, HL7 and drop-folder bad requests; the failing check's error logs with tracebacks on
    each; a library's stdlib warning and traceback: every event is there, none holds the raw name, ID or mobile."""
    configure_logging(LogSettings(level="debug", json=True), log_buffer)  # after the agent's own set-up
    grpc_calls(agent.address)
    http_calls(_address(agent, "http"))
    mllp_calls(_address(agent, "mllp"))
    drop_calls(agent.settings.drop.dir)  # type: ignore[arg-type]
    text = log_buffer.getvalue()
    events = [json.loads(line) for line in text.splitlines()]
    names = {event["event"] for event in events}
    expected = {
        "grpc.invalid_argument", "grpc.internal_error", "nhsa.invalid_request", "nhsa.internal_error",
        "mllp.invalid_message", "mllp.internal_error", "drop.rejected", "drop.internal_error",
        "no index entry for *** (id 11**************21, tel 13*******78)", "index lookup failed",
        "no index entry for  (id 11**************21, tel 13*******78)",  # HL7: no name
    }  # fmt: skip
    assert expected <= names, names
    tracebacks = [event["exception"] for event in events if "exception" in event]
    assert 8 <= len(tracebacks)  # the library's and each transport's internal error, each with its traceback
    assert sum(f"{'*' * len(NAME)}, ID {mask_value(ID_NUMBER)}" in tb for tb in tracebacks) >= 3  # all but HL7
    assert any(mask_value(ID_NUMBER) in event.get("file", "") for event in events if event["event"] == "drop.rejected")
    for raw in (NAME, ID_NUMBER, MOBILE):
        assert raw not in text


def test_id_and_mobile_numbers_are_masked_in_any_string() -> None:
    """ID-number- and mobile-shaped runs are masked wherever they stand; longer digit runs (a 20-digit trace code,
    a 16-digit sequence) and codes with letters around them are left alone."""
    assert "证件 11**************21 手机 13*******78." == mask_text(f"证件 {ID_NUMBER} 手机 {MOBILE}.")
    for kept in ("83857930000879766660", "H11010800001", "1700000000000000", f"X{ID_NUMBER}", "110105194913310021"):
        assert kept == mask_text(kept)
