"""Which column of a register holds what: a header-synonym table and the detection of the header row.

The sales office's registers (客户登记表, 来电来访登记表, 温馨卡登记表, 成交客户信息登记表) name the same
thing in several ways (联系电话 / 联系方式 / 手机); the table below maps each spelling, after
normalising spaces, full-width brackets, colons and units, to one field. The mapping found is shown
on the upload page and may be corrected there before anything runs.
"""
from __future__ import annotations

import re
from typing import Any, Sequence

from archive_app.i18n import _l
from archive_app.visits.choices import CARD_CHOICES
from archive_app.vocabulary import source_text

# field -> (Chinese label shown on the page, header spellings)
FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "name": (_l("客户姓名"), ("姓名", "客户姓名", "客户名称", "客户", "名称", "购房人", "业主姓名", "来访人", "来电人")),
    "kind": (_l("客户类别"), ("客户类别", "客户类型", "个人/企业")),
    "phones": (_l("联系电话"), ("电话", "联系电话", "联系方式", "手机", "手机号", "手机号码", "电话号码", "客户电话")),
    "id_number": (_l("身份证号码"), ("身份证号码", "身份证号", "身份证", "证件号码", "证件号", "统一社会信用代码")),
    "business_type": (_l("业务类型"), ("业务类型", "业务类别")),
    "grade": (_l("客户等级"), ("客户等级", "等级", "意向等级", "客户级别", "级别")),
    "consultant": (_l("置业顾问"), ("置业顾问", "接待置业顾问", "接待人", "接待顾问", "销售员", "销售顾问", "顾问")),
    "department": (_l("部门"), ("部门", "所属部门", "销售部门")),
    "project": (_l("楼盘"), ("楼盘", "项目", "意向楼盘", "项目名称", "楼盘名称")),
    "unit": (_l("房号"), ("房号", "认购房号", "成交房号", "房间号")),
    "address": (_l("地址"), ("地址", "通讯地址", "住址", "联系地址", "居住地址")),
    "notes": (_l("备注"), ("备注", "说明")),
    "deal_closed_on": (_l("成交日期"), ("成交日期", "认购日期", "签约日期", "成交时间")),
    "contract_ended_on": (_l("合同终止日期"), ("合同终止日期", "合同到期日期", "租赁到期日")),
    "last_contact_on": (_l("最后联系日期"), ("最后联系日期", "最近联系日期", "最后联系时间")),
    # the visitor card (温馨卡)
    **{field: (label, (source_text(label), re.sub(r"（.*?）", "", source_text(label))))
       for field, (label, _unused) in CARD_CHOICES.items()},
    "visit_1": (_l("首次到访日期"), ("首次到访日期", "首次到访", "首次来访日期", "首次来访", "来访日期", "到访日期",
                                "来电来访日期", "日期")),
    "visit_2": (_l("二次到访日期"), ("二次到访日期", "二次到访", "第二次到访", "二次来访", "第二次来访")),
    "visit_3": (_l("三次到访日期"), ("三次到访日期", "三次到访", "第三次到访", "三次来访", "第三次来访")),
    "scouting": (_l("踩盘"), ("踩盘", "是否踩盘")),
}
CARD_FIELDS = (*CARD_CHOICES, "visit_1", "visit_2", "visit_3", "scouting")
DEAL_FIELDS = ("deal_closed_on", "unit")
# A header row is looked for in the first rows: registers often start with a title line (客户登记表).
HEADER_SCAN_ROWS = 10
KINDS = {"customers": _l("客户登记表"), "visitor_cards": _l("温馨卡登记表"), "deals": "成交客户信息登记表"}


def normalise(header: Any) -> str:
    """A header as the synonym table spells it: no spaces, colons, stars or bracketed units."""
    text = str(header or "").strip()
    text = re.sub(r"[\s:：*＊]", "", text)
    text = re.sub(r"[（(][^）)]*[）)]", "", text)
    return text.upper() if text.isascii() else text


_SYNONYMS = {normalise(s): field for field, (_, spellings) in FIELDS.items() for s in spellings}


def field_for(header: Any) -> str | None:
    """The field a header names, or None for a column the import leaves aside (序号, 性别, EMAIL …)."""
    return _SYNONYMS.get(normalise(header))


def detect(rows: Sequence[Sequence[Any]]) -> tuple[int, list[str | None]]:
    """(index of the header row, the field of each of its columns): the first rows' best match.

    A field claimed by two columns keeps its first; the second is left aside (shown unmapped).
    """
    best, best_fields, best_score = 0, [], -1
    for index, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        fields = mapping_for(row)
        score = sum(f is not None for f in fields)
        if score > best_score:
            best, best_fields, best_score = index, fields, score
    return best, best_fields


def mapping_for(headers: Sequence[Any]) -> list[str | None]:
    """Each header's field (None when unknown or already taken by an earlier column)."""
    seen: set[str] = set()
    out: list[str | None] = []
    for header in headers:
        field = field_for(header)
        if field in seen:
            field = None
        if field:
            seen.add(field)
        out.append(field)
    return out


def register_kind(fields: Sequence[str | None]) -> str:
    """Which register the mapped columns make: visitor cards, closed deals, or a customer list."""
    present = set(fields)
    if present & set(CARD_FIELDS):
        return "visitor_cards"
    if present & set(DEAL_FIELDS):
        return "deals"
    return "customers"
