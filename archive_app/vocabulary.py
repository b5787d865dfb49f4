"""The archive's vocabulary (DOMAIN.md) as plain data: parts, record types, 密级, grades.

Kept free of Flask and SQLAlchemy so services, forms, the API schema and tests share one list.
The 档号 and 客户号 themselves are made in ``intake/numbering.py``.
"""
from __future__ import annotations

from archive_app.i18n import _, _l

# The four parts of one customer's file (一户一档), each with its own item numbers.
PARTS: dict[int, str] = {
    1: _l("客户基础资料"),
    2: _l("信誉、财务记录、付款方式"),
    3: _l("交易状况"),
    4: _l("退赔、折价"),
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

RETENTION_LABELS = {"Y": _l("永久"), "D30": _l("定期30年"), "D10": _l("定期10年"), "D3": _l("定期3年")}

# 密级, ordered: a user with clearance n may see records with secrecy <= n.
SECRECY_LEVELS: dict[int, str] = {0: _l("公开"), 1: _l("内部"), 2: _l("秘密"), 3: _l("机密")}

# What each role is called on screen (the roles themselves: accounts.models.Role; what they may do: policy).
ROLE_LABELS = {
    "archivist": _l("档案管理员"),
    "reviewer": _l("审核人"),
    "staff": _l("业务人员"),
    "dept_head": _l("部门负责人"),
    "general_manager": _l("总经理"),
    "auditor": _l("审计/鉴定"),
    "admin": _l("系统管理员"),
}

CUSTOMER_KINDS = {"person": _l("个人客户"), "company": _l("企业客户")}
BUSINESS_TYPES = ("购房", "租赁", "投资")
GRADES = ("A", "B", "C", "D")

# Why a file's extraction job was taken again (record_files.last_retry_reason).
RETRY_REASONS = {
    "lease_expired": _l("上次处理中断（工作进程无响应）"),
    "job_lost": _l("上次任务丢失（排队后未被执行）"),
}

RECORD_STATUSES = {"draft": _l("待审核"), "filed": _l("已归档"), "destroyed": _l("已销毁")}

# The largest id or page number any request may name: past these a number is no id or page of ours.
# Every id column is a 32-bit INTEGER (on PostgreSQL a larger number is an error, not "no such row").
# Pages, the API and its OpenAPI document share them.
MAX_ROW_ID = 2**31 - 1
MAX_PAGE = 1_000_000

# What the audit log page calls each action the code writes (tests/test_audit_reads.py checks every
# action written in archive_app/ has a label here).
AUDIT_ACTION_LABELS = {
    # accounts
    "login.success": _l("登录成功"),
    "login.failure": _l("登录失败"),
    "login.throttled": _l("登录受限（失败次数过多）"),
    "totp.enable": _l("启用两步验证"),
    "totp.disable": _l("关闭两步验证"),
    "totp.reset": _l("重置两步验证"),
    "logout": _l("退出登录"),
    "user.create": _l("创建用户"),
    "user.deactivate": _l("停用用户"),
    "user.reactivate": _l("恢复用户"),
    "user.change": _l("变更角色/部门/密级"),
    "user.password_reset": _l("重置密码"),
    "user.password_change": _l("修改本人密码"),
    "user.language": _l("更改界面语言"),
    "token.create": _l("创建 API 令牌"),
    "token.revoke": _l("吊销 API 令牌"),
    "token.revoke_all": _l("吊销全部 API 令牌"),
    "handover": _l("离职交接"),
    # customers
    "customer.create": _l("新建客户档案"),
    "customer.update": _l("修改客户资料"),
    "customer.view": _l("查看客户档案"),
    "customer.search": _l("查询客户"),
    "customer.pii_reveal": _l("显示完整证件号/电话"),
    "customer.erase": _l("清除客户个人信息"),
    "customer.history": _l("查看客户变更记录"),
    "customer.verify": _l("季度核实客户资料"),
    "correction.request": _l("提交客户数据变更申请"),
    "correction.approve": _l("变更申请审批通过（转复核）"),
    "correction.apply": _l("变更申请审批通过并执行变更"),
    "correction.reject": _l("驳回客户数据变更申请"),
    "correction.view": _l("查看客户数据变更申请"),
    "correction.list": _l("查看客户数据变更申请列表"),
    "verification.list": _l("查看季度核实名单"),
    # records and their content
    "record.create": _l("新建档案"),
    "record.update": _l("修改档案"),
    "record.review": _l("审核归档"),
    "record.send_back": _l("退回上传人修改"),
    "record.correct": _l("更正已归档档案（附原因）"),
    "record.view": _l("查看档案"),
    "record.destroy": _l("销毁档案"),
    "file.upload": _l("上传文件"),
    "intake_folder.file": _l("监视文件夹自动归档"),
    "intake_folder.reject": _l("监视文件夹文件无法归档（已移至 rejected）"),
    "file.download": _l("下载文件"),
    "file.download_searchable": _l("下载可检索副本"),
    "page.view": _l("查看页面图像"),
    "page.text": _l("查看识别文字"),
    "page.thumbnails": _l("查看页面缩略图"),
    "search.run": _l("全文检索"),
    # the log itself and refusals
    "audit.view": _l("查看审计日志"),
    "audit.export": _l("导出审计日志"),
    "audit.verify": _l("校验审计日志链"),
    "access.denied": _l("拒绝访问"),
    "access.denials_suppressed": _l("拒绝访问（此后一分钟内不再逐条记录）"),
    # borrowing
    "loan.request": _l("申请借阅"),
    "loan.approve": _l("审批通过（转总经理）"),
    "loan.approve_final": _l("审批通过"),
    "loan.reject": _l("驳回借阅申请"),
    "loan.expire": _l("借阅申请超时失效"),
    "loan.revoke": _l("撤回借阅"),
    "loan.close": _l("借阅结束"),
    "paper.hand_out": _l("借出原件"),
    "paper.return": _l("归还原件"),
    "paper.slip_print": _l("打印原件交接单"),
    "loan_register.export": _l("导出查阅登记表"),
    # retention and destruction
    "retention.schedule": _l("修改保管期限表"),
    "hold.place": _l("冻结（诉讼保全）"),
    "hold.lift": _l("解除冻结"),
    "disposal.batch_create": _l("创建鉴定批次"),
    "disposal.decide": _l("鉴定意见"),
    "disposal.submit": _l("提交销毁审批"),
    "disposal.approve": _l("批准销毁"),
    "disposal.send_back": _l("退回重新鉴定"),
    "disposal.supervise": _l("监销确认"),
    "disposal.skip": _l("本次未销毁（不再符合销毁条件）"),
    "disposal.execute_start": _l("开始销毁"),
    "disposal.execute_finish": _l("完成销毁"),
    "disposal.paper_destroy": _l("销毁纸质原件"),
    "backup.create": _l("备份"),
    "backup.fail": _l("备份失败"),
    "backup.restore": _l("从备份恢复"),
    "backup.redestroy": _l("恢复后重新销毁（销毁清册所列档案）"),
    "disposal.register_export": _l("导出销毁清册"),
    "disposal.certificate_download": _l("下载销毁证明书"),
    # fixity
    "fixity.check": _l("完整性检测"),
    "fixity.failed": _l("完整性检测未通过"),
    # 四性检测
    "admission_checks.run": _l("重新进行四性检测"),
    "admission_checks.export": _l("导出四性检测结果"),
    # reports out
    "report.export": _l("导出报表"),
    # visits: visitor cards, grades, follow-ups
    "visit_card.create": _l("登记温馨卡"),
    "register.import": _l("导入登记表"),
    "register.report_view": _l("查看导入报告"),
    "visit_card.view": _l("查看温馨卡"),
    "visit_card.visit": _l("登记再次到访"),
    "visit_card.list": _l("查看客户温馨卡"),
    "grade.change": _l("变更客户等级"),
    "followup.record": _l("记录回访"),
}

# What the audit log page calls the objects entries concern.
AUDIT_OBJECT_LABELS = {
    "user": _l("用户"), "customer": _l("客户"), "customer_list": _l("客户列表"), "record": _l("档案"), "search": _l("检索"),
    "loan_request": _l("借阅申请"), "paper_loan": _l("原件借出"), "handover": _l("交接"), "loan_register": _l("查阅登记表"),
    "schedule": _l("保管期限表"), "legal_hold": _l("冻结"), "disposal_batch": _l("鉴定批次"), "audit_log": _l("审计日志"),
    "backup": _l("备份"),
    "fixity_run": _l("完整性检测"), "intake_folder": _l("监视文件夹"),
}

# What the audit log page calls the keys of an entry's details (the JSON stays as written; only the
# page and its export print these). A key not named here is printed as written.
AUDIT_DETAIL_LABELS = {
    "archival_code": _l("档号"), "customer_no": _l("客户号"), "batch_no": _l("批次号"), "request_no": _l("申请单号"),
    "request_id": _l("申请单"), "record_id": _l("档案"), "file_id": _l("文件"), "card_id": "温馨卡", "hold_id": _l("冻结"),
    "follow_up_id": _l("回访"), "token_id": _l("令牌"), "consultant_id": _l("置业顾问"), "username": _l("用户名"),
    "name": _l("名称"), "reason": _l("原因"), "note": _l("备注"), "comment": _l("意见"), "before": _l("修改前"), "after": _l("修改后"),
    "changes": _l("变更"), "fields": _l("字段"), "field": _l("字段"), "from": _l("原值"), "to": _l("新值"), "filters": _l("筛选条件"),
    "page": _l("页码"), "total": _l("条数"), "rows": _l("行数"), "format": _l("格式"), "scope": _l("范围"), "step": _l("步骤"),
    "records": _l("档案"), "customers": _l("客户"), "cards": "温馨卡", "items": _l("项目"), "list": _l("名单"),
    "quarter": _l("季度"), "owner": _l("所有人"), "objects": _l("对象"), "kind": _l("类型"), "key": _l("键"), "dest": _l("目标位置"),
    "width": _l("宽"), "height": _l("高"), "version": _l("版本"), "tokens_revoked": _l("吊销令牌数"), "target": _l("对象"),
    "successor": _l("接手人"), "status": _l("状态"), "stage": _l("阶段"), "sort": _l("排序"), "second_factor": _l("两步验证"),
    "role": _l("角色"), "revoked": _l("已吊销"), "retry_after": _l("稍后重试（秒）"), "requests": _l("申请"),
    "purpose": _l("用途"), "personal_fields": _l("个人信息字段"), "pages": _l("页数"), "max_days": _l("最长天数"),
    "mandate": _l("依据文书"), "how": _l("方式"), "generated": _l("生成"), "frame": _l("画面"), "file": _l("文件"),
    "failed": _l("失败"), "error": _l("错误"), "duplicates": _l("重复"), "due_by": _l("应于"), "destroyed": _l("已销毁"),
    "department": _l("部门"), "decision": _l("决定"), "copied": _l("已复制"), "intact": _l("链完整"), "entries": _l("条目数"),
    "problems": _l("问题"), "anchor_seq": _l("锚点条目数"), "title": _l("题名"), "record_type": _l("类型"),
    "doc_date": _l("文件日期"), "secrecy": _l("密级"), "retention_code": _l("保管期限"), "part": _l("部分"),
    "approved": _l("已批准"), "refused": _l("未批准"), "user": _l("操作人"), "action": _l("操作"), "target_text": _l("档号/客户号"),
    "date_from": _l("开始日期"), "date_to": _l("结束日期"), "path": _l("路径"), "method": _l("请求方式"), "args": _l("参数"),
    "hidden": _l("隐藏"), "extra": _l("其他"), "count": _l("数量"), "seq": _l("序号"), "phones": _l("电话"), "id_number": _l("证件号"),
    "address": _l("地址"), "unit": _l("单位"), "notes": _l("备注"), "mime": _l("文件类型"), "mime_type": _l("文件类型"),
    "sha256": "SHA-256", "size": _l("大小（字节）"), "page_no": _l("页码"), "query": _l("检索词"), "hits": _l("命中数"),
    "customer_id": _l("客户"), "location_room": _l("库房"), "location_cabinet": _l("柜"), "location_shelf": _l("架"),
    "location_box": _l("盒"), "resubmitted": _l("重新提交审核"),
}

# Kinds of actions the log page filters by (an action's name up to its first dot).
AUDIT_ACTION_GROUPS = {
    "login": _l("登录"), "user": _l("用户管理"), "token": _l("API 令牌"), "customer": _l("客户档案"), "correction": _l("客户数据变更"),
    "record": _l("档案"), "file": _l("文件"), "page": _l("页面图像与文字"), "search": _l("检索"), "loan": _l("借阅"),
    "paper": _l("原件借还"), "hold": _l("冻结"), "disposal": _l("鉴定与销毁"), "backup": _l("备份"), "audit": _l("审计日志"),
    "access": _l("拒绝访问"), "fixity": _l("完整性检测"), "visit_card": "温馨卡", "register": _l("登记表导入"),
}

# Files' types as people call them (the stored MIME type stays the machine's name for it).
FILE_TYPE_LABELS = {
    "application/pdf": _l("PDF 文档"), "image/jpeg": _l("JPEG 图片"), "image/png": _l("PNG 图片"), "image/tiff": _l("TIFF 图片"),
    "image/gif": _l("GIF 图片"), "image/webp": _l("WebP 图片"), "image/bmp": _l("BMP 图片"), "text/plain": _l("文本文件"),
    "text/csv": _l("CSV 表格"),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": _l("Excel 表格"),
    "application/vnd.ms-excel": _l("Excel 表格"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": _l("Word 文档"),
    "application/msword": _l("Word 文档"), "application/zip": _l("ZIP 压缩包"), "application/json": _l("JSON 数据"),
}


def file_type_label(mime_type: str) -> str:
    """A file's type as people call it (PDF 文档, JPEG 图片); an unknown type is named as stored."""
    return str(FILE_TYPE_LABELS.get((mime_type or "").split(";")[0].strip().lower(), mime_type or _("未知类型")))


def without_code(message: str) -> str:
    """A stored "code: 中文说明" message as people read it: the Chinese part (codes are for programs)."""
    head, sep, rest = (message or "").partition(": ")
    return rest if sep and head.replace("_", "").isalnum() and head.isascii() else (message or "")


def source_text(label: object) -> str:
    """The Simplified Chinese source text of a label, lazy (``_l``) or not.

    Parsing matches what people type in the paper's words (register headers, card choices), whatever
    the reader's language: a lazy label would translate when used, its msgid does not.
    """
    return str(getattr(label, "_args", (label,))[0])
