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

# Short codes of the record types (拼音首字母), for file names where Chinese is awkward: the watched
# intake folder's naming rule (intake/naming_rule.py) takes a type by its label or by its code.
RECORD_TYPE_CODES: dict[str, str] = {
    "购房合同": "GFHT",
    "认购书": "RGS",
    "租赁合同": "ZLHT",
    "身份证复印件": "SFZ",
    "营业执照副本复印件": "YYZZ",
    "授权委托书": "SQWTS",
    "付款凭证": "FKPZ",
    "收据": "SJ",
    "发票": "FP",
    "温馨卡": "WXK",
    "来电来访登记表": "LDLF",
    "成交客户信息登记表": "CJDJ",
    "客户投诉处理表": "KHTS",
    "满意度调查表": "MYD",
    "资信调查报告": "ZXDC",
    "往来函件": "WLHJ",
    "客户数据变更申请表": "BGSQ",
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
    "user.language": "更改界面语言",
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
    "record.send_back": "退回上传人修改",
    "record.correct": "更正已归档档案（附原因）",
    "record.view": "查看档案",
    "record.destroy": "销毁档案",
    "file.upload": "上传文件",
    "intake_folder.file": "监视文件夹自动归档",
    "intake_folder.reject": "监视文件夹文件无法归档（已移至 rejected）",
    "file.download": "下载文件",
    "file.download_searchable": "下载可检索副本",
    "page.view": "查看页面图像",
    "page.text": "查看识别文字",
    "page.thumbnails": "查看页面缩略图",
    "search.run": "全文检索",
    # the log itself and refusals
    "audit.view": "查看审计日志",
    "audit.export": "导出审计日志",
    "audit.verify": "校验审计日志链",
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
    "paper.slip_print": "打印原件交接单",
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
    "disposal.paper_destroy": "销毁纸质原件",
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
    "fixity_run": "完整性检测", "intake_folder": "监视文件夹",
}

# What the audit log page calls the keys of an entry's details (the JSON stays as written; only the
# page and its export print these). A key not named here is printed as written.
AUDIT_DETAIL_LABELS = {
    "archival_code": "档号", "customer_no": "客户号", "batch_no": "批次号", "request_no": "申请单号",
    "request_id": "申请单", "record_id": "档案", "file_id": "文件", "card_id": "温馨卡", "hold_id": "冻结",
    "follow_up_id": "回访", "token_id": "令牌", "consultant_id": "置业顾问", "username": "用户名",
    "name": "名称", "reason": "原因", "note": "备注", "comment": "意见", "before": "修改前", "after": "修改后",
    "changes": "变更", "fields": "字段", "field": "字段", "from": "原值", "to": "新值", "filters": "筛选条件",
    "page": "页码", "total": "条数", "rows": "行数", "format": "格式", "scope": "范围", "step": "步骤",
    "records": "档案", "customers": "客户", "cards": "温馨卡", "items": "项目", "list": "名单",
    "quarter": "季度", "owner": "所有人", "objects": "对象", "kind": "类型", "key": "键", "dest": "目标位置",
    "width": "宽", "height": "高", "version": "版本", "tokens_revoked": "吊销令牌数", "target": "对象",
    "successor": "接手人", "status": "状态", "stage": "阶段", "sort": "排序", "second_factor": "两步验证",
    "role": "角色", "revoked": "已吊销", "retry_after": "稍后重试（秒）", "requests": "申请",
    "purpose": "用途", "personal_fields": "个人信息字段", "pages": "页数", "max_days": "最长天数",
    "mandate": "依据文书", "how": "方式", "generated": "生成", "frame": "画面", "file": "文件",
    "failed": "失败", "error": "错误", "duplicates": "重复", "due_by": "应于", "destroyed": "已销毁",
    "department": "部门", "decision": "决定", "copied": "已复制", "intact": "链完整", "entries": "条目数",
    "problems": "问题", "anchor_seq": "锚点条目数", "title": "题名", "record_type": "类型",
    "doc_date": "文件日期", "secrecy": "密级", "retention_code": "保管期限", "part": "部分",
    "approved": "已批准", "refused": "未批准", "user": "操作人", "action": "操作", "target_text": "档号/客户号",
    "date_from": "开始日期", "date_to": "结束日期", "path": "路径", "method": "请求方式", "args": "参数",
    "hidden": "隐藏", "extra": "其他", "count": "数量", "seq": "序号", "phones": "电话", "id_number": "证件号",
    "address": "地址", "unit": "单位", "notes": "备注", "mime": "文件类型", "mime_type": "文件类型",
    "sha256": "SHA-256", "size": "大小（字节）", "page_no": "页码", "query": "检索词", "hits": "命中数",
    "customer_id": "客户", "location_room": "库房", "location_cabinet": "柜", "location_shelf": "架",
    "location_box": "盒", "resubmitted": "重新提交审核",
}

# Kinds of actions the log page filters by (an action's name up to its first dot).
AUDIT_ACTION_GROUPS = {
    "login": "登录", "user": "用户管理", "token": "API 令牌", "customer": "客户档案", "correction": "客户数据变更",
    "record": "档案", "file": "文件", "page": "页面图像与文字", "search": "检索", "loan": "借阅",
    "paper": "原件借还", "hold": "冻结", "disposal": "鉴定与销毁", "backup": "备份", "audit": "审计日志",
    "access": "拒绝访问", "fixity": "完整性检测", "visit_card": "温馨卡", "register": "登记表导入",
}

# Files' types as people call them (the stored MIME type stays the machine's name for it).
FILE_TYPE_LABELS = {
    "application/pdf": "PDF 文档", "image/jpeg": "JPEG 图片", "image/png": "PNG 图片", "image/tiff": "TIFF 图片",
    "image/gif": "GIF 图片", "image/webp": "WebP 图片", "image/bmp": "BMP 图片", "text/plain": "文本文件",
    "text/csv": "CSV 表格",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel 表格",
    "application/vnd.ms-excel": "Excel 表格",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word 文档",
    "application/msword": "Word 文档", "application/zip": "ZIP 压缩包", "application/json": "JSON 数据",
}


def file_type_label(mime_type: str) -> str:
    """A file's type as people call it (PDF 文档, JPEG 图片); an unknown type is named as stored."""
    return FILE_TYPE_LABELS.get((mime_type or "").split(";")[0].strip().lower(), mime_type or "未知类型")


def without_code(message: str) -> str:
    """A stored "code: 中文说明" message as people read it: the Chinese part (codes are for programs)."""
    head, sep, rest = (message or "").partition(": ")
    return rest if sep and head.replace("_", "").isalnum() and head.isascii() else (message or "")
