"""The MLLP listener on 127.0.0.1:0: python-hl7's own `mllp_send` as a foreign client, framing, code mapping, fuzz.

The agent serves the embedded default KB; ACKs are parsed back with python-hl7.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import hl7
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from fundguard.agent.codes import CodeMap, load_code_map
from fundguard.agent.config import MllpSettings
from fundguard.agent.intake import ParsedRequest
from fundguard.agent.kb import KbStore
from fundguard.agent.service import CheckOutcome, CheckService
from fundguard.agent.transport.mllp_server import MllpListener, MllpResponder
from fundguard.knowledge_base import default_bundle_path

from ..hl7_samples import LOCAL_IUD, VITAMIN_GIVE, broken_rde, frames, malformed_messages, rde_o11
from ..samples import IUD_CODE, SEX_DRUG_RULE_ID

NOW = datetime(2026, 11, 23, 10, 0, 0)
MAX_BYTES = 64 * 1024
UNMAPPED_RULE_ID = "FG-CODE-UNMAPPED"


@pytest.fixture(scope="module")
def store() -> KbStore:
    """A store with the agent's KB (the embedded default bundle) loaded."""
    kb_store = KbStore()
    kb_store.load(default_bundle_path())
    return kb_store


@contextlib.contextmanager
def serving(service: CheckService) -> Iterator[MllpListener]:
    """A started listener on a free port, stopped afterwards."""
    listener = MllpListener(MllpSettings("127.0.0.1:0", MAX_BYTES), service, lambda: NOW)
    listener.start()
    try:
        yield listener
    finally:
        listener.stop()


@pytest.fixture
def listener(store: KbStore) -> Iterator[MllpListener]:
    """A listener checking against the default KB without a code map."""
    with serving(CheckService(store, clock=lambda: NOW)) as running:
        yield running


class Client:
    """A raw MLLP client: send bytes, read one framed answer at a time."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.buffer = b""

    def answer(self) -> hl7.Message:
        """The next ACK (VT … FS CR), parsed."""
        while b"\x1c\r" not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed before an answer")
            self.buffer += data
        frame, _, self.buffer = self.buffer.partition(b"\x1c\r")
        assert frame.startswith(b"\x0b")
        return hl7.parse(frame[1:].decode("utf-8", errors="replace"))  # GB18030 answers: only ASCII is read

    def ask(self, data: bytes) -> hl7.Message:
        """Send `data` and read one answer."""
        self.sock.sendall(data)
        return self.answer()

    def close(self) -> None:
        """Close the connection."""
        self.sock.close()


def summary(ack: hl7.Message) -> tuple[str, str, list[str]]:
    """MSA-1, ERR-2 of the first ERR, and the ERR-5.1 rule ids."""
    errs = [s for s in ack if str(s[0]) == "ERR"]
    location = str(errs[0][2]) if errs and len(errs[0]) > 2 else ""
    return str(ack.segment("MSA")[1]), location, [str(e[5]).split("^")[0] for e in errs]


# --- a foreign client --------------------------------------------------------------------------------------------


def test_mllp_send_gets_aa_with_alerts_and_ae_for_a_broken_message(listener: MllpListener, tmp_path: Path) -> None:
    """python-hl7's `mllp_send`, unmodified, sends a file of two messages: AA with the sex alert, then AE at PID-8."""
    messages = tmp_path / "messages.hl7"
    messages.write_bytes(frames(rde_o11(vitamin=False), broken_rde()))
    mllp_send = Path(sys.executable).parent / "mllp_send"
    port = listener.address.rpartition(":")[2]
    run = subprocess.run(
        [str(mllp_send), "--file", str(messages), "--port", port, "127.0.0.1"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    answers = [hl7.parse(block.strip(b"\x0b\r\n").decode("utf-8")) for block in run.stdout.split(b"\x1c")[:-1]]
    expected = (0, [("AA", "", [SEX_DRUG_RULE_ID]), ("AE", "PID^1^8", ["invalid_field"])])
    assert expected == (run.returncode, [summary(a) for a in answers])
    expected_ids = ["RDE20250614000001", "RDE20250614000002"]
    assert expected_ids == [str(a.segment("MSA")[2]) for a in answers]


# --- code mapping ------------------------------------------------------------------------------------------------


def test_hospital_codes_are_checked_as_the_national_codes_they_map_to(store: KbStore, tmp_path: Path) -> None:
    """With a code map from CSV: the local IUD code gets the sex alert; an unmapped local code its own alert."""
    csv_file = tmp_path / "map.csv"
    csv_file.write_text(f"hosplist_code,hilist_code,hosplist_name\n{LOCAL_IUD},{IUD_CODE},左炔诺孕酮宫内节育系统\n")
    codes: CodeMap = load_code_map(csv_file)
    message = rde_o11(give=f"{LOCAL_IUD}^左炔诺孕酮宫内节育系统^HOSP").replace(VITAMIN_GIVE, "H0201815^维生素C片^HOSP")
    with serving(CheckService(store, clock=lambda: NOW, codes=codes)) as running:
        client = Client(running.address)
        ack = client.ask(frames(message))
        client.close()
    errs = [s for s in ack if str(s[0]) == "ERR"]
    expected = [("AA", UNMAPPED_RULE_ID, "6375"), ("AA", SEX_DRUG_RULE_ID, "6374")]
    assert expected == [(str(ack.segment("MSA")[1]), str(e[5][0][0]), str(e[6][-1])) for e in errs]
    notes = [str(s[3]) for s in ack if str(s[0]) == "NTE"]
    assert "H0201815" in notes[0]


# --- framing -----------------------------------------------------------------------------------------------------


def test_every_complete_frame_is_answered_once(listener: MllpListener) -> None:
    """Bytes without VT → AR; an over-long frame → one AR (its tail is not read as a frame); a junk prefix before
    VT is ignored; then a valid message on the same connection gets AA."""
    client = Client(listener.address)
    client.sock.sendall(b"garbage\x1c\r" + frames("MSH" + "A" * (2 * MAX_BYTES)) + b"\r\n" + frames(rde_o11()))
    answers = [summary(client.answer()) for _ in range(3)]
    client.close()
    expected = [("AR", "", ["rejected"]), ("AR", "", ["rejected"]), ("AA", "", [SEX_DRUG_RULE_ID])]
    assert expected == answers


def test_over_long_frame_is_answered_with_its_control_id(listener: MllpListener) -> None:
    """A message over max_message_bytes gets AR naming the size, echoing its MSH-10."""
    big = rde_o11() + "NTE|1||" + "备注" * MAX_BYTES + "\r"
    client = Client(listener.address)
    ack = client.ask(frames(big))
    client.close()
    expected = ("AR", "RDE20250614000001", f"message larger than {MAX_BYTES} bytes")
    assert expected == (str(ack.segment("MSA")[1]), str(ack.segment("MSA")[2]), str(ack.segment("MSA")[3]))


def test_half_frame_at_end_of_stream_is_closed_without_answer(listener: MllpListener) -> None:
    """A frame cut off by the sender's end of stream is dropped: the connection closes with nothing sent."""
    client = Client(listener.address)
    client.sock.sendall(b"\x0b" + rde_o11().encode("utf-8")[:100])
    client.sock.shutdown(socket.SHUT_WR)
    assert b"" == client.sock.recv(65536)
    client.close()


@pytest.mark.parametrize("split", [1, 7, 300])
def test_frames_arriving_in_pieces_are_reassembled(listener: MllpListener, split: int) -> None:
    """A frame sent in chunks (TCP gives no message boundaries) is answered once it is complete."""
    client = Client(listener.address)
    data = frames(rde_o11())
    for start in range(0, len(data), len(data) // split + 1):
        client.sock.sendall(data[start : start + len(data) // split + 1])
    assert "AA" == summary(client.answer())[0]
    client.close()


# --- robustness --------------------------------------------------------------------------------------------------

_FRAMES = st.one_of(
    malformed_messages().map(lambda raw: frames("") if not raw else b"\x0b" + raw.replace(b"\x1c", b"") + b"\x1c\r"),
    st.binary(max_size=200).map(lambda raw: raw.replace(b"\x0b", b"").replace(b"\x1c", b"") + b"\x1c\r"),
)


def test_malformed_frames_then_a_valid_message_still_gets_aa(listener: MllpListener) -> None:
    """A few hundred malformed frames on one connection: each gets one AA/AE/AR; then AA on a new connection."""
    client = Client(listener.address)
    codes: set[str] = set()

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(data=_FRAMES)
    def send(data: bytes) -> None:
        codes.add(summary(client.ask(data))[0])

    send()
    client.close()
    fresh = Client(listener.address)
    expected = (True, ("AA", "", [SEX_DRUG_RULE_ID]))
    assert expected == (codes <= {"AA", "AE", "AR"}, summary(fresh.ask(frames(rde_o11(vitamin=False)))))
    fresh.close()


class _Failing(CheckService):
    """A check service whose check fails unexpectedly."""

    def check(self, parsed: ParsedRequest) -> CheckOutcome:
        """Always raise, as a bug would."""
        raise RuntimeError(f"bug while checking {parsed.request.encounter.mdtrt_id}")


def test_unexpected_errors_are_answered_ae_and_logged_without_identity(store: KbStore) -> None:
    """A failing check answers AE "internal error" (HL7 207) and logs it; the connection keeps serving; the
    patient id appears in no log event."""
    with capture_logs() as events, serving(_Failing(store, clock=lambda: NOW)) as running:
        client = Client(running.address)
        answers = [client.ask(frames(rde_o11())), client.ask(frames(broken_rde()))]
        client.close()
    expected = [("AE", "internal error (see the agent log)", "207"), ("AE", "PID-8: 'X' is not M, F, U or O "
                "(HL7 table 0001)", "102")]  # fmt: skip
    assert expected == [(str(a.segment("MSA")[1]), str(a.segment("MSA")[3]), str(a.segment("ERR")[3][0][0]))
                        for a in answers]  # fmt: skip
    assert ["mllp.internal_error", "mllp.invalid_message"] == [
        e["event"] for e in events if e["event"] != "mllp.started"
    ]
    assert not any("1058158" in str(e) for e in events)


def test_no_knowledge_base_is_answered_ae(tmp_path: Path) -> None:
    """Without a loaded KB the check cannot run: AE naming no field, HL7 207."""
    responder = MllpResponder(CheckService(KbStore(), clock=lambda: NOW), lambda: NOW, lambda: "C1")
    ack = hl7.parse(responder.respond(rde_o11().encode("utf-8")).decode("utf-8"))
    expected = ("AE", "C1", "207")
    assert expected == (str(ack.segment("MSA")[1]), str(ack.segment("MSH")[10]), str(ack.segment("ERR")[3][0][0]))


# --- lifecycle ---------------------------------------------------------------------------------------------------


def test_address_in_use_raises_oserror(listener: MllpListener, store: KbStore) -> None:
    """A second listener on the same port cannot bind: start() raises OSError (the agent reports it)."""
    other = MllpListener(MllpSettings(listener.address, MAX_BYTES), CheckService(store), lambda: NOW)
    with pytest.raises(OSError):
        other.start()
    other.stop()


def test_stop_closes_open_connections(store: KbStore) -> None:
    """stop() closes idle connections and the port; stopping twice is harmless."""
    running = MllpListener(MllpSettings("127.0.0.1:0", MAX_BYTES), CheckService(store), lambda: NOW)
    running.start()
    client = Client(running.address)
    assert "AA" == summary(client.ask(frames(rde_o11())))[0]
    running.stop()
    running.stop()
    assert b"" == client.sock.recv(65536)
    client.close()
    with pytest.raises(ConnectionRefusedError):
        Client(running.address)


def test_listener_without_address_is_refused(store: KbStore) -> None:
    """An MLLP listener needs an address (the agent builds none when [mllp] has no address)."""
    with pytest.raises(ValueError, match=r"mllp\.address"):
        MllpListener(MllpSettings(), CheckService(store), lambda: NOW)
