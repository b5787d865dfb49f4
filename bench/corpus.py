"""Synthetic customer records for the search tests and benchmark (deterministic per seed).

Names include compound surnames (欧阳, 司马, 诸葛 …) and surnames with a special reading (曾, 单,
解, 区 …); phones are mobile numbers, ID numbers are valid 18-character resident IDs with their
check digit; addresses, projects (阳光花园 3栋2单元1502室), and about 1.5 KB of text per record made
of a contract/visit-log template plus sentences of the real seed pages (Traditional and Simplified).
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Iterator

from search_index import IndexDoc

SHARED = Path(__file__).resolve().parents[2] / "shared"
SEEDS = SHARED / "seeds"

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
SPECIAL_SURNAMES = list("曾单解区仇查朴覃翟乐缪")
COMPOUND = ["欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "令狐", "慕容", "夏侯", "司徒"]
GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉"
             "建国志文海波晓东宇浩然欣怡子涵梓轩思远雨桐嘉琪俊杰雅婷一鸣天佑若曦博文")
PROJECTS = ["阳光花园", "翡翠湾", "金色家园", "碧水蓝天", "锦绣江南", "滨江壹号", "御景华庭", "紫薇苑",
            "海棠湾", "星河湾", "世纪名门", "观澜府", "凤凰城", "香樟园", "丽水佳园", "绿城桂花园"]
CITIES = [("广东省", "深圳市", ["南山区", "福田区", "宝安区"]), ("浙江省", "杭州市", ["西湖区", "滨江区"]),
          ("江苏省", "南京市", ["鼓楼区", "建邺区"]), ("四川省", "成都市", ["武侯区", "锦江区"]),
          ("天津市", "天津市", ["和平区", "河西区"]), ("湖北省", "武汉市", ["江汉区", "洪山区"])]
ROADS = ["人民路", "解放大道", "建设路", "中山路", "科技园路", "滨海大道", "文化路", "长江路", "学府路"]
AREA_CODES = ["440305", "440304", "330106", "320106", "510107", "120101", "420103", "110105"]
RECORD_TYPES = {"购房合同": 3, "认购书": 3, "租赁合同": 3, "身份证复印件": 1, "营业执照副本复印件": 1,
                "授权委托书": 1, "付款凭证": 2, "收据": 2, "发票": 2, "温馨卡": 1, "来电来访登记表": 1,
                "成交客户信息登记表": 1, "客户投诉处理表": 4, "满意度调查表": 1, "资信调查报告": 2,
                "往来函件": 1, "客户数据变更申请表": 1}
RETENTION = {3: "D30", 1: "D30", 2: "D30", 4: "D10"}
COMPANIES = ["深圳市华盛投资有限公司", "杭州锦程贸易有限公司", "成都天府置业有限公司", "南京恒泰实业有限公司"]

_CHECK_W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_CHECK_C = "10X98765432"


def id_check_digit(first17: str) -> str:
    return _CHECK_C[sum(int(c) * w for c, w in zip(first17, _CHECK_W)) % 11]


def make_id(rng: random.Random) -> str:
    birth = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 50))
    first17 = f"{rng.choice(AREA_CODES)}{birth:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + id_check_digit(first17)


def make_phone(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


def make_name(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.06:
        surname = rng.choice(COMPOUND)
    elif r < 0.16:
        surname = rng.choice(SPECIAL_SURNAMES)
    else:
        surname = rng.choice(SURNAMES)
    given = "".join(rng.choice(GIVEN) for _ in range(1 if rng.random() < 0.3 else 2))
    return surname + given


def seed_sentences() -> list[str]:
    out: list[str] = []
    for f in sorted(SEEDS.glob("*.txt")):
        for s in re.split(r"[。！？\n;；]", f.read_text(encoding="utf-8")):
            s = s.strip()
            if 8 <= len(s) <= 80:
                out.append(s)
    return out


@dataclass
class Customer:
    customer_id: int
    customer_no: str
    name: str
    kind: str
    phones: list[str]
    id_number: str | None
    project: str
    unit: str
    address: str
    department_id: int | None


def make_customer(rng: random.Random, cid: int) -> Customer:
    company = rng.random() < 0.05
    name = rng.choice(COMPANIES) if company else make_name(rng)
    prov, city, districts = rng.choice(CITIES)
    project = rng.choice(PROJECTS)
    unit = f"{rng.randint(1, 30)}栋{rng.randint(1, 6)}单元{rng.randint(1, 33)}{rng.randint(1, 4):02d}室"
    address = f"{prov if prov != city else ''}{city}{rng.choice(districts)}{rng.choice(ROADS)}{rng.randint(1, 999)}号"
    phones = [make_phone(rng) for _ in range(1 if rng.random() < 0.8 else 2)]
    dept = None if rng.random() < 0.05 else rng.randint(1, 6)
    return Customer(cid, f"C{cid:06d}", name, "company" if company else "person", phones,
                    None if company else make_id(rng), project, unit, address, dept)


def _body(rng: random.Random, c: Customer, rtype: str, sentences: list[str], target: int,
          year: int = 2026) -> str:
    # numbers a scanned contract or receipt prints: what an archivist types to find it again
    codes = (f"合同编号：HT-{year}-{rng.randint(1, 9999):04d} 收据 No.{rng.randint(0, 9_999_999):07d} "
             f"车次{rng.choice('GDKTZ')}{rng.randint(1, 9999)}\n")
    head = (f"{rtype}\n客户姓名：{c.name} 联系电话：{'、'.join(c.phones)}"
            f"{' 身份证号码：' + c.id_number if c.id_number else ''}\n"
            f"通讯地址：{c.address} 购买房屋：{c.project}{c.unit}\n"
            f"置业顾问接待记录，客户等级{rng.choice('ABCD')}，意向面积{rng.choice(['80以下', '80-100', '100-120', '120-140'])}平方米。\n")
    head += codes
    parts = [head]
    size = len(head)
    while size < target:
        s = rng.choice(sentences)
        parts.append(s + "。")
        size += len(s) + 1
    pages = "".join(parts)
    cut = len(pages) // 2
    return pages[:cut] + "\f" + pages[cut:]


def iter_records(n: int, seed: int = 20260101, chars: int = 520, first_record_id: int = 1,
                 sentences: list[str] | None = None) -> Iterator[tuple[IndexDoc, Customer]]:
    """n records (about 3 per customer), deterministic for a seed. ~520 chars ≈ 1.5 KB UTF-8.

    The bodies are made of ``sentences`` (default: those of the seed pages in ../shared/seeds).
    """
    rng = random.Random(seed)
    sentences = seed_sentences() if sentences is None else sentences
    assert sentences, f"no sentences to write record bodies with (seed pages in {SEEDS})"
    rid = first_record_id
    cid = 0
    item_no: dict[tuple[int, int], int] = {}
    while rid < first_record_id + n:
        cid += 1
        c = make_customer(rng, cid)
        for _ in range(rng.randint(1, 5)):
            if rid >= first_record_id + n:
                break
            rtype = rng.choice(list(RECORD_TYPES))
            part = RECORD_TYPES[rtype]
            year = rng.randint(2015, 2026)
            item = item_no[(cid, part)] = item_no.get((cid, part), 0) + 1
            code = f"0001-{year}-{RETENTION[part]}-{c.customer_no}-{part}-{item:04d}"
            ddate = date(year, rng.randint(1, 12), rng.randint(1, 28))
            yield IndexDoc(
                record_id=rid, customer_id=cid, archival_code=code, customer_no=c.customer_no,
                customer_name=c.name, customer_kind=c.kind, phones=list(c.phones),
                id_number=c.id_number, project=c.project, unit=c.unit, address=c.address,
                title=f"{c.name}{rtype}", record_type=rtype, part=part, year=year,
                doc_date=ddate, grade=rng.choice("ABCD"), secrecy=rng.choice([0, 0, 1, 1, 2, 3]),
                department_id=c.department_id, status="filed" if rng.random() < 0.9 else "draft",
                content=_body(rng, c, rtype, sentences, chars, year),
                updated_at=datetime(year, ddate.month, ddate.day, 12, 0, 0),
            ), c
            rid += 1
