"""Texts the generated test files carry, written for these tests (nobody else's words).

The Chinese phrases a test searches for are short lines of common characters: rendered at 40-60 px
glyph height on white, RapidOCR reads them exactly (checked on every variant the tests use).
"""
from __future__ import annotations

# A scanned page of a filing rule (Simplified). Each line is read back as one line by the OCR.
SCAN_TITLE = "客户档案管理办法"
SCAN_LINES = [
    SCAN_TITLE,
    "置业顾问应当在成交后三日内",
    "将购房合同原件交档案室归档",
    "档案室按一户一档编号保管",
]
# Phrases of SCAN_LINES that the tests look for in OCR text and search for.
SCAN_PHRASE = "购房合同原件"
SCAN_PHRASE_TRADITIONAL = "購房合同原件"  # the same phrase in Traditional script (opencc s2t)
SCAN_PHRASE_2 = "一户一档编号"

# One printed line, as on a small photographed slip.
SLIP_LINE = "银行按揭放款通知书"

# Traditional script (the model's dictionary has every character of these lines).
TRADITIONAL_LINES = ["客戶檔案管理：購房合同與身份證複印件", "買賣雙方於銷售中心辦理網簽登記"]

# An English page: lines of words of 4+ letters, so "words found" is a fair measure.
ENGLISH_LINES = [
    "Purchase contract for unit 12-0301",
    "Buyer signed the agreement on 2024-05-01",
    "Payment schedule and bank mortgage terms",
    "Delivery of the apartment within ninety days",
    "Both parties keep one original copy each",
    "Disputes are settled by the local court",
]

# Text-layer lines of a "born digital" page (Helvetica, Latin-1 only).
TEXT_LAYER_LINES = ["Purchase contract for unit 12-0301", "Buyer signed on 2024-05-01"]

# Short pages of prose for the search tests, written for them: one in Traditional script, two in
# Simplified. Sentences end with 。 so they can be cut into the synthetic records' bodies.
PAGES = {
    "traditional": (
        "房地產客戶檔案的建立與管理\n"
        "客戶檔案是銷售中心最重要的資料之一。每一位成交客戶都應建立一份檔案，"
        "檔案內容包括認購書、購房合同、身份證複印件與付款憑證。"
        "置業顧問在客戶簽約後三日內把原件交給檔案管理員。"
        "檔案管理員核對資料是否齊全，登記後按一戶一檔的原則編號存放。"
        "借閱檔案須經部門經理批准，歸還時檢查頁數是否完整。"
        "溫馨卡記錄客戶來訪的時間、意向面積和聯繫電話。"
    ),
    "simplified_rules": (
        "销售案场客户资料登记规范\n"
        "来电来访登记表由前台每日汇总，周一上午交销售经理审阅。"
        "客户资料录入系统时应保持字段统一，姓名、电话与证件号码不得留空。"
        "同一客户多次来访只登记一次，后续来访记入跟进记录。"
        "成交客户信息登记表与合同编号一一对应，便于日后查询与统计。"
        "客户投诉处理表保存十年，到期后经鉴定再行销毁。"
    ),
    "simplified_system": (
        "售楼处信息系统简介\n"
        "系统分为客户管理、房源管理与合同管理三个部分。"
        "客户管理模块记录意向客户与成交客户的基本资料。"
        "房源管理模块显示每一套房屋的面积、朝向与销售状态。"
        "合同管理模块生成合同编号并跟踪付款进度。"
        "管理人员可以按月份查看销售数据与回款情况。"
    ),
}


def sentences() -> list[str]:
    """The sentences of PAGES (8-80 characters)."""
    import re

    out = []
    for text in PAGES.values():
        for s in re.split(r"[。！？\n;；]", text):
            s = s.strip()
            if 8 <= len(s) <= 80:
                out.append(s)
    return out


# Words of the trade, for the bodies of synthetic records (with random two-character words between
# them, so a few hundred records carry the tens of thousands of distinct bigrams real text has).
TRADE_WORDS = (
    "客户 档案 合同 购房 认购 付款 凭证 收据 发票 按揭 贷款 银行 首付 尾款 房源 楼盘 单元 面积 朝向 户型 "
    "交房 验收 物业 业主 登记 审核 归档 借阅 归还 复印 原件 扫描 密级 保管 期限 销毁 鉴定 移交 部门 经理 "
    "顾问 置业 前台 来访 来电 回访 意向 成交 签约 网签 备案 产权 证书 身份证 营业执照 委托书 授权 变更 申请 "
    "投诉 处理 满意度 调查 资信 报告 函件 通知 记录 统计 查询 系统 模块 编号 页数 日期 时间 地址 电话 姓名 "
    "家庭 成员 工作单位 收入 预算 需求 装修 车位 储藏室 学区 地铁 公园 商场 医院 学校 价格 优惠 折扣 活动 "
    "开盘 认筹 排号 选房 定金 违约 退房 换房 更名 加名 继承 赠与 抵押 解押 公证 律师 税费 契税 维修基金"
).split()


def _common_hanzi() -> list[str]:
    """The 3755 level-1 characters of GB 2312 (the most common Simplified characters), in code order."""
    out = []
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            try:
                out.append(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return out


def record_sentences(n: int = 1500, seed: int = 2026) -> list[str]:
    """``n`` sentences of trade words mixed with random two-character words, deterministic per seed."""
    import random

    rng = random.Random(seed)
    hanzi = _common_hanzi()
    out = []
    for _ in range(n):
        words = [rng.choice(TRADE_WORDS) if rng.random() < 0.5 else rng.choice(hanzi) + rng.choice(hanzi)
                 for _ in range(rng.randint(4, 9))]
        out.append("".join(words))
    return out
