"""Sample requests shared by every test that needs one (adapter, CLI, gRPC, bench): builders of fresh dicts.

The national 3101 samples are rebuilt from the real request in nhsa-interface.md §7 (IS: Changde, Hunan,
2025-06, inpatient, trig_scen 4) with everything real HIS send: numbers as numbers, numeric flags, `null`
dates, empty strings, local diagnosis codes, swapped department code/name, vendor extras (`mode`, `order_id`,
`TarItemID`). Each builder returns a new object, so a test may mutate it freely.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = [
    "IUD_CODE",
    "IUD_KP_ID",
    "SEX_DRUG_RULE_ID",
    "compliant_3101",
    "diagnosis",
    "envelope",
    "iud_order",
    "male_iud_3101",
    "order",
    "tiny_bundle",
    "vitamin_orders",
]

IUD_CODE = "XG02BAZ061Z007010279543"  # 左炔诺孕酮宫内节育系统 (female only)
IUD_KP_ID = "KP-e93841e8e9a68cc2"
SEX_DRUG_RULE_ID = "GZ10000301004000"
VITAMIN_B1 = "XA11DAW036A001010104127"
VITAMIN_C = "XA11GAW043A001010201815"

_PARAMETERS: dict[str, Any] = {
    "child_below_years": 18, "working_age_min_years": 16, "working_age_below_years": 60,
    "hosp_lv_rank": {"01": 3, "02": 3, "03": 3, "04": 3, "05": 2, "06": 2, "07": 2, "08": 1, "09": 1, "10": 1,
                     "11": 0},
    "visit_class_by_med_type": {"11": "outpatient", "12": "outpatient", "13": "emergency", "14": "outpatient",
                                "21": "inpatient", "22": "inpatient", "24": "inpatient", "28": "inpatient",
                                "41": "pharmacy"},
    "visit_class_by_med_mdtrt_type": {"1": "outpatient", "3": "inpatient"},
    "work_injury_insutypes": ["410"], "maternity_insutypes": ["510"],
    "maternity_med_types": ["51", "52", "53"], "internet_med_types": [], "surgery_discount_ratio": "0.5",
    "herbal_list_types": ["102"],
}  # fmt: skip


def tiny_bundle(revision: int = 7) -> dict[str, Any]:
    """A bundle (format v1) with one rule and one point: the IUD is for women (sex "2"), as in the default."""
    return {
        "format": "fundguard-kb-bundle",
        "format_version": 1,
        "revision": revision,
        "created_at": "2026-06-29",
        "issuer": "tests.samples",
        "parameters": copy.deepcopy(_PARAMETERS),
        "rules": [
            {"rule_class": "药品区分性别使用", "rule_id": SEX_DRUG_RULE_ID, "rule_name": "药品区分性别使用",
             "tier": "医疗类", "family": "sex", "sev_deg": "2", "workflow_impact": "reason-required"},
        ],
        "points": [
            {"kp_id": IUD_KP_ID, "rule_class": "药品区分性别使用", "family": "sex",
             "item_name": "左炔诺孕酮宫内节育系统", "codes": [IUD_CODE], "constraint": "避孕，3 年有效。",
             "detect_logic": "与限定性别不符", "batch": "batch_01", "valid_from": None, "valid_to": None,
             "supersedes": None, "derived_by": "text", "params": {"sex": "2"}},
        ],
        "not_compiled": [],
    }  # fmt: skip


def order(rx_id: str, code: str, name: str, cnt: Any, pric: Any, *, current: Any = 1, **extra: Any) -> dict[str, Any]:
    """One fsi_order_dtos[] line shaped like the IS payload (numeric flags, null stop date, vendor extras)."""
    line: dict[str, Any] = {
        "rx_id": rx_id, "rxno": "IP202506140000022", "grpno": "", "long_drord_flag": 0, "hilist_type": "101",
        "chrg_type": "09", "drord_bhvr": 0, "hilist_code": code, "hilist_name": name, "hilist_dosform": "",
        "hilist_lv": "--", "hilist_pric": pric, "lv1_hosp_item_pric": None, "lv2_hosp_item_pric": None,
        "lv3_hosp_item_pric": None, "hilist_memo": "", "hosplist_code": f"H{rx_id}", "hosplist_name": name,
        "hosplist_dosform": "", "cnt": cnt, "pric": pric, "sumamt": None, "ownpay_amt": 0, "selfpay_amt": 0,
        "spec": "", "spec_unt": "盒", "drord_begn_date": "2025-06-14 14:20:11", "drord_stop_date": None,
        "drord_dept_codg": "0301", "drord_dept_name": "骨科", "drord_dr_codg": "ys01",
        "drord_dr_name": "李医生", "drord_dr_profttl": "231", "curr_drord_flag": current,
        "order_id": int(rx_id) * 10 if rx_id.isdigit() else rx_id, "TarItemID": f"T{rx_id}",
    }  # fmt: skip
    line.update(extra)
    return line


def iud_order(rx_id: str = "6374") -> dict[str, Any]:
    """The IS line: 左炔诺孕酮宫内节育系统 1 盒 × 1153 (numbers as JSON numbers), current."""
    return order(
        rx_id,
        IUD_CODE,
        "左炔诺孕酮宫内节育系统",
        1,
        1153,
        sumamt=1153,
        spec="52mg",
        hilist_dosform="宫内节育系统",
    )


def vitamin_orders() -> list[dict[str, Any]]:
    """The IS historical lines (curr_drord_flag 0): 维生素B1片 and 维生素C片, amounts as strings."""
    return [
        order(
            "6371",
            VITAMIN_B1,
            "维生素B1片",
            "2",
            "0.05",
            current=0,
            spec="10mg*100片",
            drord_begn_date="2025-05-05 09:00:00",
        ),
        order(
            "6372",
            VITAMIN_C,
            "维生素C片",
            "3",
            "0.08",
            current="0",
            spec="0.1g*100片",
            drord_begn_date="2025-05-05 09:00:00",
        ),
    ]


def diagnosis(dise_id: int, codg: str, name: str, *, main: int = 0, srt: int = 1) -> dict[str, Any]:
    """One fsi_diagnose_dtos[] entry with numeric id, flag and sort number (as IS sends them)."""
    return {"dise_id": dise_id, "inout_dise_type": "1", "maindise_flag": main, "dias_srt_no": srt,
            "dise_codg": codg, "dise_name": name, "dise_date": "2025-05-07 17:27:31"}  # fmt: skip


def _encounter(mdtrt_id: str, orders: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "mdtrt_id": mdtrt_id, "medins_id": "CDSDERMYY", "medins_name": "常德市第二人民医院",
        "medins_admdvs": "430702",
        "medins_type": "A", "medins_lv": "01", "wardarea_codg": "", "wardno": "", "bedno": "23",
        "adm_date": "2025-05-04 10:59:45", "dscg_date": None,
        "dscg_main_dise_codg": "XYZD018987", "dscg_main_dise_name": "痛风性关节炎", "dr_codg": "ys01",
        "adm_dept_codg": "骨科", "adm_dept_name": "0301", "dscg_dept_codg": "", "dscg_dept_name": "",
        "med_mdtrt_type": "1", "med_type": "21", "matn_stas": "0", "medfee_sumamt": 1153.49, "ownpay_amt": 0,
        "selfpay_amt": "", "acct_payamt": None, "ma_amt": None, "hifp_payamt": None, "setl_totlnum": 0,
        "insutype": "390", "reim_flag": "0", "out_setl_flag": "0",
        "fsi_diagnose_dtos": [
            diagnosis(7395, "XYZD018987", "痛风性关节炎", main=1, srt=3),
            diagnosis(7396, "M10.900", "痛风", srt=1),
            diagnosis(7397, "I10.x00", "高血压", srt=2),
            diagnosis(7398, "E11.900", "2型糖尿病", srt=4),
        ],
        "fsi_order_dtos": orders,
        "fsi_operation_dtos": [],
    }  # fmt: skip


def envelope(data: dict[str, Any], infno: str = "3101") -> dict[str, Any]:
    """The national request envelope around `data` (IS header fields plus the vendor extra `mode`)."""
    return {
        "infno": infno, "msgid": "CDSDERMYY202506141427240001", "mdtrtarea_admvs": "430799",
        "insuplc_admdvs": "430796", "recer_sys_code": "IMS", "dev_no": "", "dev_safe_info": "", "cainfo": "",
        "signtype": "", "infver": "V1.0", "opter_type": "1", "opter": "ys01", "opter_name": "李医生",
        "inf_time": "2025-06-14 14:27:24", "fixmedins_code": "CDSDERMYY",
        "fixmedins_name": "常德市第二人民医院", "sign_no": "", "mode": "1", "input": {"data": data},
    }  # fmt: skip


def _data(patient: dict[str, Any]) -> dict[str, Any]:
    return {"rule_ids": [], "trig_scen": "4", "syscode": "IMS", "task_id": "TASK-20250614-0001",
            "patient_dtos": [patient]}  # fmt: skip


def male_iud_3101() -> dict[str, Any]:
    """The IS request: a 73-year-old man in 骨科 gets the IUD (current line 6374) + two earlier lines."""
    patient = {
        "patn_id": "1058158", "patn_name": "张某某", "gend": "1", "brdy": "1951-08-27", "poolarea": "430796",
        "curr_mdtrt_id": "2001668", "fsi_his_data_dto": "",
        "fsi_encounter_dtos": [_encounter("2001668", [iud_order(), *vitamin_orders()])],
    }  # fmt: skip
    return envelope(_data(patient))


def compliant_3101() -> dict[str, Any]:
    """The same hospital and encounter for a 35-year-old woman: the IUD is for her, nothing to flag."""
    patient = {
        "patn_id": "1060421", "patn_name": "王某某", "gend": 2, "brdy": "1990-03-01", "poolarea": "430796",
        "curr_mdtrt_id": 2001702,
        "fsi_encounter_dtos": [_encounter("2001702", [iud_order("6401"), *vitamin_orders()])],
    }  # fmt: skip
    return envelope(_data(patient))
