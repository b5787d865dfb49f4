"""The visitor card's fixed choices, exactly as the paper 温馨卡 prints them, and the follow-up ways.

Stored as codes, shown with the paper's Chinese labels; the order is the card's. Sources: the
温馨卡录入统一标准 in ``shared/seeds/004_*`` (and DOMAIN.md). 集资建房 is not printed among the
card's boxes but the same standard defines it as a kind of housing, so it is offered last. The
认知途径 list keeps the two brand channels the paper names (顺驰会, 世纪推荐): codes stay stable if
a label is renamed for another company.

Kept free of Flask and SQLAlchemy, like ``archive_app.vocabulary``: services, forms, the API
schema and (later) imports and reports share these lists.
"""
from __future__ import annotations

from archive_app.i18n import _l

# The card's fields in the card's order: field name -> (label, {code: label}).
UNIT_TYPES = {"enterprise": _l("企业单位"), "institution": _l("事业单位"), "self_employed": _l("个体")}
AGE_BANDS = {"under_25": _l("25以下"), "25_35": "25-35", "35_45": "35-45", "45_55": "45-55", "over_55": _l("55以上")}
HOUSING = {"welfare": _l("福利分房"), "self_built": _l("自建"), "commercial": _l("商品房"), "rented": "租赁",
           "pooled": _l("集资建房")}
PURPOSES = {"own": _l("自己住"), "with_parents": _l("与父母同住"), "for_parents": _l("为父母买房"),
            "for_children": _l("为子女买房"), "investment": "投资"}
CHANNELS = {"shunchi_club": _l("顺驰会"), "referral": _l("亲友推荐"), "outdoor_ad": _l("户外广告"), "tv": _l("电视"),
            "passing_by": _l("路过"), "key_account": _l("大客户单位"), "event": _l("活动"), "online": _l("网络"), "dm": "DM",
            "agency": _l("置业推荐"), "century": _l("世纪推荐")}
AREA_BANDS = {"under_80": _l("80以下"), "80_100": "80-100", "100_120": "100-120", "120_140": "120-140",
              "140_160": "140-160", "over_160": _l("160以上")}
PRICE_BANDS = {"under_2500": _l("2500以下"), "2500_3000": "2500-3000", "3000_3500": "3000-3500",
               "3500_4000": "3500-4000", "over_4000": _l("4000以上")}
INCOME_BANDS = {"under_30k": _l("3万以下"), "30k_50k": _l("3-5万"), "50k_100k": _l("5-10万"), "100k_200k": _l("10-20万"),
                "over_200k": _l("20万以上")}

CARD_CHOICES: dict[str, tuple[str, dict[str, str]]] = {
    "unit_type": (_l("单位性质"), UNIT_TYPES),
    "age_band": (_l("年龄"), AGE_BANDS),
    "housing": (_l("住房性质"), HOUSING),
    "purpose": (_l("购房用途"), PURPOSES),
    "channel": (_l("认知途径"), CHANNELS),
    "area_band": (_l("意向面积（㎡）"), AREA_BANDS),
    "price_band": (_l("接受价格（元/㎡）"), PRICE_BANDS),
    "income_band": (_l("家庭月收入"), INCOME_BANDS),
}

# A–D, most interested first: a move to a later letter is a downgrade (退化), which needs a reason.
GRADE_ORDER = {"A": 0, "B": 1, "C": 2, "D": 3}
GRADE_LABELS = {"A": _l("A级"), "B": _l("B级"), "C": _l("C级"), "D": _l("D级")}

# How a follow-up (回访) was made.
FOLLOW_UP_WAYS = {"phone": _l("电话"), "visit": _l("上门"), "store": _l("来访"), "wechat": _l("微信"), "sms": _l("短信"),
                  "other": _l("其他")}

# How many visit dates one card holds (first, second, third and more): the paper's back has rows for
# a handful; 20 is far beyond any real card and bounds a request.
MAX_VISITS = 20


def label(field: str, code: str | None) -> str:
    """The Chinese label of a card field's code ('' for none)."""
    if not code:
        return ""
    return CARD_CHOICES[field][1].get(code, code)
