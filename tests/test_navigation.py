"""The header's menus by role: each person is offered only the groups and pages policy lets them open."""
from __future__ import annotations

from archive_app.accounts.models import User
from archive_app.extensions import db
from archive_app.navigation import MENUS, menus_for
from archive_app.policy import can


def test_every_entry_names_a_real_page_and_labels_are_unique(app) -> None:
    entries = [e for _, group in MENUS for e in group]
    assert {e.endpoint for e in entries} <= set(app.view_functions)
    assert len({e.label for e in entries}) == len(entries)


def test_each_role_is_offered_exactly_the_pages_policy_allows(app, users) -> None:
    with app.app_context():
        offered = {}
        for name, user_id in users.items():
            person = db.session.get(User, user_id)
            menus = menus_for(person)
            assert all(g.entries for g in menus)  # no empty group shown
            got = {e.label for g in menus for e in g.entries}
            expected = {e.label for _, group in MENUS for e in group
                        if not e.actions or any(can(person, a) for a in e.actions)}
            assert got == expected, name
            offered[name] = {g.title: [e.label for e in g.entries] for g in menus}
    assert "审计日志" in offered["auditor"]["管理"]
    assert "用户管理" not in offered["auditor"]["管理"] and "档案" in offered["auditor"]
    assert "新建档案" not in offered["auditor"]["档案"]
    assert "统计" in offered["head"] and "统计" not in offered["staff"]
    assert "保管与销毁" not in offered["staff"] and "管理" not in offered["staff"]
    assert "待我审批" in offered["head"]["借阅"] and "待我审批" not in offered["staff"]["借阅"]
    assert offered["admin"].keys() >= {"档案", "借阅", "保管与销毁", "统计", "管理"}
