"""The archive's vocabulary (DOMAIN.md) as plain data: parts, record types, 密级, grades.

Kept free of Flask and SQLAlchemy so services, forms, the API schema and tests share one list.
The 档号 and 客户号 themselves are made in ``intake/numbering.py``.
"""
from __future__ import annotations

# The four parts of one customer's file (一户一档), each with its own item numbers.
PARTS: dict[int, str] = {
    1: "客户基础资料",
    2: "信誉、财务记录、付款方式",
    3: "交易状况",
    4: "退赔、折价",
}

# Record type -> (default part, retention code used in the 档号).
# Retention codes: Y = 永久, D30 = 定期30年, D10 = 定期10年, D3 = 定期3年 (people who never bought).
RECORD_TYPES: dict[str, tuple[int, str]] = {
    "购房合同": (3, "D30"),
    "认购书": (3, "D30"),
    "租赁合同": (3, "D10"),
    "身份证复印件": (1, "D30"),
    "营业执照副本复印件": (1, "D30"),
    "授权委托书": (1, "D30"),
    "付款凭证": (2, "D30"),
    "收据": (2, "D30"),
    "发票": (2, "D30"),
    "温馨卡": (1, "D3"),
    "来电来访登记表": (1, "D3"),
    "成交客户信息登记表": (1, "D30"),
    "客户投诉处理表": (4, "D10"),
    "满意度调查表": (1, "D10"),
    "资信调查报告": (2, "D30"),
    "往来函件": (1, "D10"),
    "客户数据变更申请表": (1, "D30"),
}

RETENTION_LABELS = {"Y": "永久", "D30": "定期30年", "D10": "定期10年", "D3": "定期3年"}

# 密级, ordered: a user with clearance n may see records with secrecy <= n.
SECRECY_LEVELS: dict[int, str] = {0: "公开", 1: "内部", 2: "秘密", 3: "机密"}

# What each role is called on screen (the roles themselves: accounts.models.Role; what they may do: policy).
ROLE_LABELS = {
    "archivist": "档案管理员",
    "reviewer": "审核人",
    "staff": "业务人员",
    "dept_head": "部门负责人",
    "general_manager": "总经理",
    "auditor": "审计/鉴定",
    "admin": "系统管理员",
}

CUSTOMER_KINDS = {"person": "个人客户", "company": "企业客户"}
BUSINESS_TYPES = ("购房", "租赁", "投资")
GRADES = ("A", "B", "C", "D")

RECORD_STATUSES = {"draft": "待审核", "filed": "已归档", "destroyed": "已销毁"}

# The largest id or page number any request may name: past these a number is no id or page of ours.
# Every id column is a 32-bit INTEGER (on PostgreSQL a larger number is an error, not "no such row").
# Pages, the API and its OpenAPI document share them.
MAX_ROW_ID = 2**31 - 1
MAX_PAGE = 1_000_000
