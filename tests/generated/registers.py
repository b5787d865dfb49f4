"""Registers as the sales office keeps them in Excel: seed-style Chinese headers, good rows, and chosen
bad and duplicate rows, written as XLSX or CSV (UTF-8 with BOM, or GBK)."""
from __future__ import annotations

import csv
import io
import random
from datetime import date, timedelta
from typing import Any

from archive_app.intake.customers import id_card_valid

CUSTOMER_HEADERS = ["序号", "客户姓名", "性别", "联系电话", "身份证号码", "置业顾问", "部门", "楼盘", "房号", "客户等级",
                    "成交日期", "通讯地址", "备注"]
CARD_HEADERS = ["序号", "来访日期", "客户姓名", "联系电话", "单位性质", "年龄", "住房性质", "购房用途", "认知途径",
                "意向面积", "接受价格", "家庭月收入", "二次到访", "接待置业顾问", "客户等级", "踩盘", "备注"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"
# What each kind of bad row gets wrong, in turn (rows.py reports each as one error).
BAD_KINDS = ("phone", "id_checksum", "choice", "name", "date")


def id_number(rng: random.Random) -> str:
    """A valid 18-digit ID number (region, birth date, sequence, ISO 7064 check digit)."""
    born = date(1960, 1, 1) + timedelta(days=rng.randrange(15000))
    body = f"110101{born:%Y%m%d}{rng.randrange(1000):03d}"
    return next(body + c for c in "0123456789X" if id_card_valid(body + c))


def broken_id(number: str) -> str:
    """The same number with a wrong check digit."""
    return number[:17] + ("1" if number[17] != "1" else "2")


def customer_register(n: int, *, bad: dict[int, str] | None = None, twins: dict[int, int] | None = None,
                      existing: dict[int, tuple[str, str]] | None = None, consultant: str = "staff",
                      department: str = "销售一部", seed: int = 7) -> list[list[Any]]:
    """A 客户登记表 of ``n`` data rows under a title line and the header row.

    ``bad``: row index -> what it gets wrong (BAD_KINDS); ``twins``: row index -> earlier row index whose
    phone it repeats; ``existing``: row index -> (phone, ID number) of a customer already on file.
    """
    rng = random.Random(seed)
    bad, twins, existing = bad or {}, twins or {}, existing or {}
    rows: list[list[Any]] = [["客户登记表"], CUSTOMER_HEADERS]
    phones: list[str] = []
    for i in range(n):
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        phone = f"139{i:08d}"
        idn = id_number(rng)
        if i in twins:
            phone = phones[twins[i]]
        if i in existing:
            phone, idn = existing[i]
        grade, closed = rng.choice("ABCD"), date(2020, 1, 1) + timedelta(days=rng.randrange(2000))
        closed_cell: Any = closed
        kind = bad.get(i)
        if kind == "phone":
            phone = "139-ABC"
        elif kind == "id_checksum":
            idn = broken_id(idn)
        elif kind == "choice":
            grade = "E"
        elif kind == "name":
            name = ""
        elif kind == "date":
            closed_cell = "去年春天"
        phones.append(phone)
        rows.append([i + 1, name, rng.choice("男女"), phone, idn, consultant, department, "沿海绿色家园",
                     f"{rng.randrange(1, 30)}-{rng.randrange(1, 4)}-{rng.randrange(101, 2801)}", grade, closed_cell,
                     "某市某区某街道", ""])
    return rows


def card_register(n: int, *, consultant: str = "staff", seed: int = 11) -> list[list[Any]]:
    """A 温馨卡登记表: the card's fields with the paper's words."""
    rng = random.Random(seed)
    rows: list[list[Any]] = [CARD_HEADERS]
    for i in range(n):
        first = date(2026, 11, 1) + timedelta(days=rng.randrange(20))
        rows.append([i + 1, first.isoformat(), rng.choice(SURNAMES) + rng.choice(GIVEN), f"138{i:08d}",
                     rng.choice(["企业单位", "事业单位", "个体"]), rng.choice(["25岁以下", "25-35", "55以上"]),
                     rng.choice(["商品房", "租赁", "集资建房"]), "自己住", rng.choice(["亲友推荐", "网络", "路过"]),
                     "100-120", "3000-3500", "3-5万", (first + timedelta(days=5)).strftime("%Y/%m/%d"),
                     consultant, rng.choice("ABC"), "否", ""])
    return rows


def to_xlsx(rows: list[list[Any]]) -> bytes:
    """The rows as the first sheet of a workbook."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("登记表")
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def to_csv(rows: list[list[Any]], encoding: str = "utf-8-sig") -> bytes:
    """The rows as CSV text in ``encoding`` (Excel's "CSV UTF-8" is utf-8-sig; a Chinese Windows' plain CSV is gbk)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(
        [["" if v is None else (v.isoformat() if isinstance(v, date) else v) for v in row] for row in rows])
    return buf.getvalue().encode(encoding)
