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

# Why a file's extraction job was taken again (record_files.last_retry_reason).
RETRY_REASONS = {
    "lease_expired": "上次处理中断（工作进程无响应）",
    "job_lost": "上次任务丢失（排队后未被执行）",
}

RECORD_STATUSES = {"draft": "待审核", "filed": "已归档", "destroyed": "已销毁"}

# The largest id or page number any request may name: past these a number is no id or page of ours.
# Every id column is a 32-bit INTEGER (on PostgreSQL a larger number is an error, not "no such row").
# Pages, the API and its OpenAPI document share them.
MAX_ROW_ID = 2**31 - 1
MAX_PAGE = 1_000_000

# What the audit log page calls each action the code writes (tests/test_audit_reads.py checks every
# action written in archive_app/ has a label here).
AUDIT_ACTION_LABELS = {
    # accounts
    "login.success": "登录成功",
    "login.failure": "登录失败",
    "login.throttled": "登录受限（失败次数过多）",
    "totp.enable": "启用两步验证",
    "totp.disable": "关闭两步验证",
    "totp.reset": "重置两步验证",
    "logout": "退出登录",
    "user.create": "创建用户",
    "user.deactivate": "停用用户",
    "user.reactivate": "恢复用户",
    "user.change": "变更角色/部门/密级",
    "user.password_reset": "重置密码",
    "user.password_change": "修改本人密码",
    "token.create": "创建 API 令牌",
    "token.revoke": "吊销 API 令牌",
    "token.revoke_all": "吊销全部 API 令牌",
    "handover": "离职交接",
    # customers
    "customer.create": "新建客户档案",
    "customer.update": "修改客户资料",
    "customer.view": "查看客户档案",
    "customer.search": "查询客户",
    "customer.pii_reveal": "显示完整证件号/电话",
    "customer.erase": "清除客户个人信息",
    "customer.history": "查看客户变更记录",
    "customer.verify": "季度核实客户资料",
    "correction.request": "提交客户数据变更申请",
    "correction.approve": "变更申请审批通过（转复核）",
    "correction.apply": "变更申请审批通过并执行变更",
    "correction.reject": "驳回客户数据变更申请",
    "correction.view": "查看客户数据变更申请",
    "correction.list": "查看客户数据变更申请列表",
    "verification.list": "查看季度核实名单",
    # records and their content
    "record.create": "新建档案",
    "record.update": "修改档案",
    "record.review": "审核归档",
    "record.view": "查看档案",
    "record.destroy": "销毁档案",
    "file.upload": "上传文件",
    "file.download": "下载文件",
    "file.download_searchable": "下载可检索副本",
    "page.view": "查看页面图像",
    "page.text": "查看识别文字",
    "page.thumbnails": "查看页面缩略图",
    "search.run": "全文检索",
    # the log itself and refusals
    "audit.view": "查看审计日志",
    "access.denied": "拒绝访问",
    "access.denials_suppressed": "拒绝访问（此后一分钟内不再逐条记录）",
    # borrowing
    "loan.request": "申请借阅",
    "loan.approve": "审批通过（转总经理）",
    "loan.approve_final": "审批通过",
    "loan.reject": "驳回借阅申请",
    "loan.expire": "借阅申请超时失效",
    "loan.revoke": "撤回借阅",
    "loan.close": "借阅结束",
    "paper.hand_out": "借出原件",
    "paper.return": "归还原件",
    "loan_register.export": "导出查阅登记表",
    # retention and destruction
    "retention.schedule": "修改保管期限表",
    "hold.place": "冻结（诉讼保全）",
    "hold.lift": "解除冻结",
    "disposal.batch_create": "创建鉴定批次",
    "disposal.decide": "鉴定意见",
    "disposal.submit": "提交销毁审批",
    "disposal.approve": "批准销毁",
    "disposal.send_back": "退回重新鉴定",
    "disposal.supervise": "监销确认",
    "disposal.skip": "本次未销毁（不再符合销毁条件）",
    "disposal.execute_start": "开始销毁",
    "disposal.execute_finish": "完成销毁",
    "backup.create": "备份",
    "backup.fail": "备份失败",
    "backup.restore": "从备份恢复",
    "backup.redestroy": "恢复后重新销毁（销毁清册所列档案）",
    "disposal.register_export": "导出销毁清册",
    "disposal.certificate_download": "下载销毁证明书",
    # fixity
    "fixity.check": "完整性检测",
    "fixity.failed": "完整性检测未通过",
    # 四性检测
    "admission_checks.run": "重新进行四性检测",
    "admission_checks.export": "导出四性检测结果",
    # reports out
    "report.export": "导出报表",
    # visits: visitor cards, grades, follow-ups
    "visit_card.create": "登记温馨卡",
    "register.import": "导入登记表",
    "register.report_view": "查看导入报告",
    "visit_card.view": "查看温馨卡",
    "visit_card.visit": "登记再次到访",
    "visit_card.list": "查看客户温馨卡",
    "grade.change": "变更客户等级",
    "followup.record": "记录回访",
}

# What the audit log page calls the objects entries concern.
AUDIT_OBJECT_LABELS = {
    "user": "用户", "customer": "客户", "customer_list": "客户列表", "record": "档案", "search": "检索",
    "loan_request": "借阅申请", "paper_loan": "原件借出", "handover": "交接", "loan_register": "查阅登记表",
    "schedule": "保管期限表", "legal_hold": "冻结", "disposal_batch": "鉴定批次", "audit_log": "审计日志",
    "backup": "备份",
    "fixity_run": "完整性检测",
}
