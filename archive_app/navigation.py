"""The header's menus: which pages each person is offered, grouped the way the archive works.

The menu is data, filtered through :func:`archive_app.policy.can`, so a role sees only the groups and
pages it may open and the template never decides on roles itself. A group with no page left for the
user is not shown at all.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel.speaklater import LazyString

from .i18n import _l
from .policy import can


@dataclass(frozen=True)
class Entry:
    """One page in a menu: its label, its Flask endpoint and the actions of which any one opens it
    (none: every signed-in user)."""

    label: str | LazyString
    endpoint: str
    actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Group:
    """A menu as shown to one user: its title and the entries left for them."""

    title: str | LazyString
    entries: tuple[Entry, ...]


# Labels are lazy: each is looked up in the reader's language when a page is drawn.
MENUS: tuple[tuple[str | LazyString, tuple[Entry, ...]], ...] = (
    (_l("档案"), (
        Entry(_l("客户档案"), "customers.index"),
        Entry(_l("新建档案"), "customers.new", ("customer.create",)),
        Entry(_l("批量上传"), "bulk_intake.bulk_upload", ("record.upload",)),
        Entry(_l("导入登记表"), "registers.upload", ("register.import",)),
        Entry(_l("待审核"), "review.queue", ("review.queue",)),
        Entry(_l("变更审批"), "corrections.queue", ("correction.approve_head", "correction.approve_second")),
        Entry(_l("季度核实"), "corrections.verification_list", ("verification.view",)),
        Entry(_l("四性检测"), "four_checks.index", ("record.checks",)),
    )),
    (_l("借阅"), (
        Entry(_l("我的申请"), "loans.mine", ("loan.request",)),
        Entry(_l("待我审批"), "loans.queue", ("loan.approve",)),
        # Every signed-in user has a view of the register: all of it, their department's, or their own lines.
        Entry(_l("查阅登记表"), "loans.register"),
        Entry(_l("原件借还"), "loans.paper", ("paper.manage",)),
        Entry(_l("逾期未还"), "loans.paper_overdue", ("paper.manage",)),
    )),
    (_l("保管与销毁"), (
        Entry(_l("保管期限"), "retention.schedule", ("retention.view",)),
        Entry(_l("冻结"), "retention.holds_page", ("hold.place",)),
        Entry(_l("到期档案"), "retention.due", ("disposal.view_due",)),
        Entry(_l("鉴定与销毁"), "retention.batches", ("retention.view",)),
        Entry(_l("销毁清册"), "retention.register", ("retention.view",)),
        Entry(_l("完整性检测"), "fixity.index", ("fixity.view",)),
        Entry(_l("备份"), "backup.backups_page", ("backup.view",)),
    )),
    (_l("统计"), (
        Entry(_l("报表"), "reports.index", ("report.view",)),
    )),
    (_l("管理"), (
        Entry(_l("用户管理"), "admin.users", ("user.manage",)),
        Entry(_l("审计日志"), "audit.audit_log", ("audit.view",)),
    )),
)


def _offered(user: Any, entry: Entry) -> bool:
    return not entry.actions or any(can(user, action) for action in entry.actions)


def menus_for(user: Any) -> list[Group]:
    """The groups ``user`` is offered, each with only the pages they may open; empty groups dropped."""
    groups = []
    for title, entries in MENUS:
        offered = tuple(e for e in entries if _offered(user, e))
        if offered:
            groups.append(Group(title, offered))
    return groups


__all__ = ["Entry", "Group", "MENUS", "menus_for"]
