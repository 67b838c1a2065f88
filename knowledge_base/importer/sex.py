"""Derive the allowed sex of 药品区分性别使用 and 医疗服务项目区分性别使用 points from their wording.

The published rows do not name the sex. Service rows say it outright (女性泌尿生殖系统相关手术, 男性…);
drug rows give the indication text, so the sex is read from anatomy and condition words in the item name and
constraint: 前列腺, 睾丸, 阴茎, 勃起, 遗精 … → male ("1"); 月经, 子宫, 带下, 妇, 妊娠, 乳腺, 阴道, 卵巢,
避孕, 产后 … → female ("2"). Look-alikes are masked first: 前列腺素 is prostaglandin, 产生/产品 are not
childbirth, 精神/酒精 are not semen, 安宫 (安宫牛黄丸) is not the uterus. Rows that hit both sides or neither
are left to the override table, and so are rows whose keywords mislead (each is in knowledge_base/
overrides.json with the reason).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._source import SourcePoint, fold
from ._types import Derivation

__all__ = ["FEMALE", "MALE", "derive_sex", "sex_keywords"]

MALE = "1"
FEMALE = "2"

# fmt: off
# masked before matching: look-alikes that are not about sex organs or reproduction
MASKS = (
    "前列腺素",  # prostaglandin (E1, E2 …), not the prostate
    "产生", "生产企业", "产品", "产物", "国产", "产地", "所产", "产气", "产酶", "产毒", "产超广谱",
    "精神", "精氨酸", "酒精", "精制", "味精", "精油", "精蛋白", "精确", "精准", "聚精会神",
    "安宫", "宫廷",
    "宫内感染",  # neonatal infections acquired in utero, not a female-only condition
)

MALE_WORDS = (
    "前列腺", "睾丸", "睾酮", "附睾", "阴茎", "阴囊", "包皮", "包茎", "勃起", "阳痿", "阳萎",
    "早泄", "遗精", "滑精", "精子", "精液", "少精", "弱精", "精索", "输精管", "男性", "男子",
)
FEMALE_WORDS = (
    "月经", "经期", "痛经", "闭经", "调经", "经水", "经血", "经量", "崩漏", "带下", "白带", "宫",
    "妇", "女性", "孕", "妊娠", "安胎", "保胎", "胎动", "滑胎", "胎漏", "乳腺", "乳癖", "乳痈",
    "乳房", "催乳", "通乳", "下乳", "回乳", "泌乳", "缺乳", "哺乳", "阴道", "外阴", "阴痒", "卵巢",
    "输卵管", "排卵", "附件炎", "盆腔", "绝经", "更年期", "恶露", "产后", "产前", "难产", "流产",
    "早产", "引产", "催产", "助产", "小产", "产褥", "产妇", "产道", "分娩", "宫缩", "癥瘕",
)
# fmt: on


def _masked(text: str) -> str:
    for word in MASKS:
        text = text.replace(word, "□" * len(word))
    return text


def sex_keywords(text: str) -> tuple[list[str], list[str]]:
    """The male and female keywords found in `text` after masking look-alikes (each in list order)."""
    masked = _masked(fold(text))
    male = [w for w in MALE_WORDS if w in masked]
    female = [w for w in FEMALE_WORDS if w in masked]
    return male, female


SERVICE_SEX = re.compile(r"^(男|女)性")


def derive_sex(point: SourcePoint, _kb: Mapping[str, Any]) -> Derivation:
    """`{"sex": "1"|"2"}` from a service constraint (男性/女性) or from keywords of a drug's name and text."""
    if point.rule_class == "医疗服务项目区分性别使用":
        found = SERVICE_SEX.match(point.constraint)
        if found is None:
            return Derivation.missing(f"constraint does not start with 男性/女性: {point.constraint!r}")
        sex = MALE if found.group(1) == "男" else FEMALE
        male, female = sex_keywords(point.item_name)
        other = female if sex == MALE else male
        notes = (f"name has keywords of the other sex: {'、'.join(other)}",) if other else ()
        return Derivation.of({"sex": sex}, *notes)
    male, female = sex_keywords(f"{point.item_name}\n{point.constraint}")
    if male and female:
        both = f"male {'、'.join(male)}; female {'、'.join(female)}"
        return Derivation.missing(f"keywords of both sexes: {both}")
    if male:
        return Derivation.of({"sex": MALE})
    if female:
        return Derivation.of({"sex": FEMALE})
    return Derivation.missing("no sex keyword in name or constraint")
