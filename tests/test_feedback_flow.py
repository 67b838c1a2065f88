"""Clinicians' decisions through the running agent: a 3101 answer's jr_id can be decided once; an unknown one is
refused naming the field; the register survives a restart of the agent."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from fundguard.agent.app import Agent, build_agent
from fundguard.agent.config import load_settings

from .samples import male_iud_3101


def start(data_dir: Path) -> Agent:
    # the flow is about the sex alert: the info alert on the local doctor code "ys01" is switched off here
    agent = build_agent(load_settings(None, {"grpc.address": "127.0.0.1:0", "http.address": "127.0.0.1:0",
                                             "data.dir": data_dir, "practitioners.check_codes": False}))  # fmt: skip
    agent.start()
    return agent


def post(agent: Agent, path: str, body: dict[str, Any]) -> dict[str, Any]:
    url = f"http://{agent.listeners[0].address}{path}"
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method="POST"), timeout=10) as response:
        doc: dict[str, Any] = json.loads(response.read())
    return doc


def feedback(jr_id: str) -> dict[str, Any]:
    warn = {"warn_rslt_id": jr_id, "dspo_way": "1", "dspo_way_rea": "临床必需，已签知情同意书"}
    return {"infno": "3103", "input": {"data": {"warn_type": "1", "warns": [warn]}}}


def test_decide_known_refuse_unknown_and_remember_across_restart(tmp_path: Path) -> None:
    """3103 on an answered jr_id is stored; on an invented one it is infcode -1 naming warns[0].warn_rslt_id; after
    a restart the earlier jr_id is still known (a repeat is reported, not stored twice)."""
    agent = start(tmp_path)
    try:
        jr_id = post(agent, "/3101", male_iud_3101())["output"]["result"][0]["jr_id"]
        stored = post(agent, "/3103", feedback(jr_id))
        unknown = post(agent, "/3103", feedback("no-such-jr-id-001"))
    finally:
        agent.stop(grace=0)
    again = start(tmp_path)
    try:
        repeated = post(again, "/3103", feedback(jr_id))
        count = again.decisions.count()
    finally:
        again.stop(grace=0)
    expected = ((0, ""), (-1, True), (0, True), 1)
    actual = ((stored["infcode"], stored["warn_msg"]),
              (unknown["infcode"], unknown["err_msg"].startswith("input.data.warns[0].warn_rslt_id: unknown jr_id")),
              (repeated["infcode"], jr_id in repeated["warn_msg"]), count)  # fmt: skip
    assert expected == actual


def test_feedback_rpc_stores_once_and_refuses_bad_decisions(tmp_path: Path) -> None:
    """gRPC Feedback: a decided jr_id of a Check answer is stored, then reported duplicate; continue without reason,
    an unknown jr_id and a bad dspo_way are INVALID_ARGUMENT naming the field."""
    import grpc

    from fundguard.v1 import compliance_pb2 as pb
    from fundguard.v1 import compliance_pb2_grpc as pb_grpc

    from .transport.test_grpc_server import iud_request

    agent = start(tmp_path)
    try:
        with grpc.insecure_channel(agent.address) as channel:
            stub = pb_grpc.ComplianceAgentStub(channel)
            jr_id = stub.Check(iud_request(), timeout=10).alerts[0].jr_id
            first = stub.Feedback(pb.FeedbackRequest(jr_id=jr_id, dspo_way="2"), timeout=10)
            second = stub.Feedback(pb.FeedbackRequest(jr_id=jr_id, dspo_way="2"), timeout=10)
            refused = []
            for bad in (pb.FeedbackRequest(jr_id=jr_id, dspo_way="1"), pb.FeedbackRequest(jr_id="nope", dspo_way="2"),
                        pb.FeedbackRequest(jr_id=jr_id, dspo_way="7")):  # fmt: skip
                try:
                    stub.Feedback(bad, timeout=10)
                except grpc.RpcError as err:
                    refused.append((err.code(), err.details().split(":")[0]))
    finally:
        agent.stop(grace=0)
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    expected = ("stored", "duplicate", [(invalid, "dspo_way_rea"), (invalid, "jr_id"), (invalid, "dspo_way")])
    assert expected == (first.outcome, second.outcome, refused)


def test_feedback_stats_command_prints_override_rates(tmp_path: Path, capsys: Any) -> None:
    """`fundguard feedback stats --data-dir` prints the decisions and the override rate of the decided rule."""
    from fundguard.agent import cli

    agent = start(tmp_path)
    try:
        jr_id = post(agent, "/3101", male_iud_3101())["output"]["result"][0]["jr_id"]
        post(agent, "/3103", feedback(jr_id))
    finally:
        agent.stop(grace=0)
    assert 0 == cli.main(["feedback", "stats", "--data-dir", str(tmp_path)])
    doc = json.loads(capsys.readouterr().out)
    expected = (1, [{"key": "GZ10000301004000", "decided": 1, "overridden": 1, "override_rate": 1.0}])
    assert expected == (doc["decisions"], doc["by_rule"])
    assert 2 == cli.main(["feedback", "stats", "--data-dir", str(tmp_path / "nowhere")])


def test_a_decided_alert_is_not_raised_again_until_the_line_changes(tmp_path: Path) -> None:
    """Alert fatigue: after a decision on the IUD alert, the same encounter with the same line gets no such alert;
    the line changed (quantity 2) gets it again; so does the same line in another encounter; also after a restart."""
    def sex_alerts(agent: Agent, request: dict[str, Any]) -> list[list[str]]:
        doc = post(agent, "/3101", request)
        return [[d["rx_id"] for d in r["judge_result_detail_dtos"]] for r in doc["output"]["result"]
                if r["rule_id"] == "GZ10000301004000"]  # fmt: skip

    def changed() -> dict[str, Any]:
        request = male_iud_3101()
        request["input"]["data"]["patient_dtos"][0]["fsi_encounter_dtos"][0]["fsi_order_dtos"][0]["cnt"] = 2
        return request

    def elsewhere() -> dict[str, Any]:
        request = male_iud_3101()
        patient = request["input"]["data"]["patient_dtos"][0]
        patient["curr_mdtrt_id"] = patient["fsi_encounter_dtos"][0]["mdtrt_id"] = "2009999"
        return request

    agent = start(tmp_path)
    try:
        first = post(agent, "/3101", male_iud_3101())["output"]["result"]
        post(agent, "/3103", feedback(first[0]["jr_id"]))
        again = sex_alerts(agent, male_iud_3101())
        after_change = sex_alerts(agent, changed())
        other_encounter = sex_alerts(agent, elsewhere())
    finally:
        agent.stop(grace=0)
    restarted = start(tmp_path)
    try:
        after_restart = sex_alerts(restarted, male_iud_3101())
    finally:
        restarted.stop(grace=0)
    assert ([], [["6374"]], [["6374"]], []) == (again, after_change, other_encounter, after_restart)
