"""CDS Hooks card rendering: one card per alert, in the request's language (zh-CN, en).

A card carries the alert text (`summary`: its first clause within 140 characters; `detail`: the whole text with the
rule, knowledge point, amount, order lines and evidence), an indicator from the workflow impact (block → critical,
reason-required → warning, info → info), the rule as `source.topic`, the override reasons offered for the rule's
class, the alert ids as `extension.fundguard`, and, unless the alert is info-only, a `delete` suggestion for each
violating draft order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fundguard.agent.engine.model import Alert, WorkflowImpact

if TYPE_CHECKING:
    from .cds_hooks import HookRequest

__all__ = ["MAX_SUMMARY", "OVERRIDE_SYSTEM", "RULE_SYSTEM", "render_card"]

RULE_SYSTEM = "http://nhsa.gov.cn/fhir/rule"  # card.source.topic: the smart-supervision rule
OVERRIDE_SYSTEM = "urn:fundguard:cds:override-reason"
MAX_SUMMARY = 139  # the spec: a "<140-character" summary
_INDICATORS = {WorkflowImpact.BLOCK: "critical", WorkflowImpact.REASON_REQUIRED: "warning", WorkflowImpact.INFO: "info"}
_REASONS = {  # code: (zh, en) display
    "clinical-necessity": ("临床必需", "Clinically necessary"),
    "informed-consent": ("已获患者知情同意（自费）", "Patient informed and consents to pay"),
    "indication-met": ("符合适应症（已补充诊断）", "Indication met (diagnosis added)"),
    "first-line-failed": ("一线用药无效或不耐受（已记录）", "First-line treatment failed (documented)"),
    "data-corrected": ("患者或就诊信息有误（已更正）", "Patient or visit data wrong (corrected)"),
    "approved": ("已获医保经办机构审批或备案", "Approved or filed with the insurer"),
    "not-duplicate": ("非重复收费（不同部位或时间）", "Not a duplicate (other site or time)"),
    "mapping-requested": ("已提交目录对照维护", "Code mapping requested"),
}
_DEFAULT_REASONS = ("clinical-necessity", "informed-consent")
_REASONS_BY_CLASS = {  # rule_class → override reasons offered on its cards (default: _DEFAULT_REASONS)
    **dict.fromkeys(("药品区分性别使用", "医疗服务项目区分性别使用", "药品限儿童使用", "药品儿童专用",
                     "医疗服务项目儿童专用", "医疗服务项目限年龄"),
                    ("clinical-necessity", "data-corrected", "informed-consent")),
    "药品限适应症": ("indication-met", "clinical-necessity", "informed-consent"),
    "药品限二线使用": ("first-line-failed", "clinical-necessity", "informed-consent"),
    **dict.fromkeys(("药品限工伤保险", "药品限生育保险"), ("data-corrected", "informed-consent")),
    **dict.fromkeys(("药品限支付疗程", "医疗服务项目限支付疗程", "药品限医疗机构级别", "药品限就医方式",
                     "超互联网医院药品支付范围", "手术项目未按规定折价收费"),
                    ("approved", "clinical-necessity", "informed-consent")),
    **dict.fromkeys(("医疗服务项目重复收费", "医疗服务项目限定频次", "医疗服务项目周期超频次"),
                    ("not-duplicate", "clinical-necessity", "informed-consent")),
    "医保目录编码未对照": ("mapping-requested", "informed-consent"),
}  # fmt: skip
_LABELS = {
    "zh-CN": {"source": "fundguard 医保事前审核", "rule": "规则", "kp": "知识点", "amount": "涉及金额",
              "lines": "涉及医嘱", "violating": "违规项", "involved": "涉及项", "evidence": "依据",
              "delete": "撤销医嘱：{item}", "delete_why": "撤销不符合医保规则的医嘱 {ref}"},
    "en": {"source": "fundguard insurance pre-check", "rule": "Rule", "kp": "Knowledge point",
           "amount": "Amount at risk", "lines": "Orders", "violating": "violating", "involved": "involved",
           "evidence": "Evidence", "delete": "Remove the order: {item}",
           "delete_why": "Remove {ref}, which breaks an insurance rule"},
}  # fmt: skip
_SENTENCE_END = re.compile(r"[；。;]")


def _summary(text: str) -> str:
    """The first clause of the alert text, within the spec's 140 characters."""
    head = _SENTENCE_END.split(text, maxsplit=1)[0].strip() or text
    return head if len(head) <= MAX_SUMMARY else head[: MAX_SUMMARY - 1] + "…"


def _detail(alert: Alert, labels: Mapping[str, str]) -> str:
    kinds = {"1": labels["violating"], "2": labels["involved"]}
    rows = [
        f"- {labels['rule']}: {alert.rule_name} ({alert.rule_id})",
        f"- {labels['kp']}: {alert.kp_id}",
        f"- {labels['lines']}: " + ", ".join(f"{ln.rx_id} ({kinds.get(ln.vola_item_type, '')})" for ln in alert.lines),
    ]
    if alert.vola_amt > 0:
        rows.insert(2, f"- {labels['amount']}: {alert.vola_amt.quantize(Decimal('0.01'))}")
    if alert.vola_evid:
        rows.append(f"- {labels['evidence']}: {alert.vola_evid}")
    return f"{alert.vola_cont}\n\n" + "\n".join(rows)


def _suggestions(alert: Alert, request: HookRequest, labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """For block / reason-required alerts: remove each violating draft order."""
    if alert.workflow_impact == WorkflowImpact.INFO:
        return []
    names = {o.rx_id: o.hilist_name for o in request.parsed.request.encounter.orders}
    out: list[dict[str, Any]] = []
    for line in alert.lines:
        ref = request.drafts.get(line.rx_id)
        if line.vola_item_type != "1" or ref is None:
            continue
        action = {"type": "delete", "description": labels["delete_why"].format(ref=ref), "resourceId": ref}
        out.append({"label": labels["delete"].format(item=names.get(line.rx_id) or ref),
                    "uuid": f"{alert.jr_id}-delete-{len(out) + 1}", "actions": [action]})  # fmt: skip
    return out


def render_card(alert: Alert, request: HookRequest) -> dict[str, Any]:
    """The CDS Hooks card of one alert: uuid = jr_id (so feedback names the alert), summary, detail, overrides."""
    lang = "en" if request.locale == "en" else "zh-CN"
    labels = _LABELS[lang]
    reasons = _REASONS_BY_CLASS.get(alert.rule_class, _DEFAULT_REASONS)
    card: dict[str, Any] = {
        "uuid": alert.jr_id,
        "summary": _summary(alert.vola_cont),
        "indicator": _INDICATORS[alert.workflow_impact],
        "detail": _detail(alert, labels),
        "source": {"label": labels["source"],
                   "topic": {"system": RULE_SYSTEM, "code": alert.rule_id, "display": alert.rule_name}},
        "overrideReasons": [{"system": OVERRIDE_SYSTEM, "code": code, "display": _REASONS[code][lang == "en"]}
                            for code in reasons],
    }  # fmt: skip
    # machine-readable alert fields for the EHR (CDS Hooks `extension`): the same ids every transport answers
    card["extension"] = {"fundguard": {
        "jr_id": alert.jr_id, "rule_id": alert.rule_id, "kp_id": alert.kp_id, "sev_deg": alert.sev_deg,
        "workflow_impact": alert.workflow_impact.value, "rx_ids": list(alert.rx_ids),
        "vola_amt": str(alert.vola_amt.quantize(Decimal("0.01"))),
    }}  # fmt: skip
    suggestions = _suggestions(alert, request, labels)
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = "any"
    return card
