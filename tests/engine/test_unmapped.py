"""The built-in "unmapped code" rule: a current line with a hospital code but no national code is flagged."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from fundguard.agent.engine import CompiledKB, check
from fundguard.agent.engine.model import CheckRequest, Encounter, OrderLine, Patient, WorkflowImpact
from fundguard.agent.engine.unmapped import RULE


def run(kb: CompiledKB, *lines: OrderLine, locale: str = "zh-CN") -> list[tuple[str, tuple[str, ...], str]]:
    req = CheckRequest("1", Patient("P1", "1", date(1960, 1, 1)), Encounter("E1", orders=lines), locale=locale)
    result = check(req, kb, date(2026, 7, 1), "J")
    return [(a.rule_id, a.rx_ids, str(a.vola_amt)) for a in result.alerts]


def test_unmapped_current_line_gets_a_reason_required_alert(default_kb: CompiledKB) -> None:
    """The line's whole amount is at risk; the text names the hospital code and what to do."""
    line = OrderLine("7", "", Decimal(2), Decimal("3.5"), Decimal(7), hilist_name="曼月乐", hosplist_code="H-404")
    req = CheckRequest("1", Patient("P1", "1", date(1960, 1, 1)), Encounter("E1", orders=(line,)))
    (alert,) = check(req, default_kb, date(2026, 7, 1), "J").alerts
    expected = ("FG-CODE-UNMAPPED", ("7",), Decimal("7.00"), WorkflowImpact.REASON_REQUIRED, True, True)
    actual = (alert.rule_id, alert.rx_ids, alert.vola_amt, alert.workflow_impact,
              "H-404" in alert.vola_cont, "曼月乐" in alert.vola_cont)  # fmt: skip
    assert expected == actual
    assert RULE.rule_name == alert.rule_name


def test_earlier_refund_and_mapped_lines_are_not_flagged(default_kb: CompiledKB) -> None:
    """Only current lines with cnt > 0 and no national code are flagged; an English text is available."""
    lines = (
        OrderLine("1", "", Decimal(1), hosplist_code="H-1", current=False),
        OrderLine("2", "", Decimal(-1), hosplist_code="H-2"),
        OrderLine("3", "XA11DAW036A001010104127", Decimal(1), hosplist_code="H-3"),
        OrderLine("4", "", Decimal(1), hosplist_code="H-4"),
    )
    assert [("FG-CODE-UNMAPPED", ("4",), "0.00")] == run(default_kb, *lines)
    req = CheckRequest("1", Patient("P1", "1", date(1960, 1, 1)), Encounter("E1", orders=lines[3:]), locale="en")
    (alert,) = check(req, default_kb, date(2026, 7, 1), "J").alerts
    assert alert.vola_cont.startswith("[H-4] hospital code H-4 maps to no national")
