"""Every route of the URL map, walked as every role against objects they must not reach.

One world (sqlite-fs: the walk is about what pages say, not about the stack) holds records a
walker may not see — 机密 ones in another department and in their own, under a loan, a hold, a
disposal batch and a destruction — and another department's customer file. Each walker (business
staff and heads of 销售一部, and archive, audit, leadership and admin accounts cleared only to 内部)
requests every rule with every method, its URL filled from ``ROUTES`` with those objects' ids, and
then:

* no answer is a 500;
* no body (page, JSON, XLSX, CSV, PDF) holds a protected 题名, 档号, customer or hold reason;
* a read of an object the walker may not see is refused (403/404), and answers exactly as the same
  URL with a missing id does (no existence oracle).

``ROUTES`` is the decision table: every endpoint of the URL map must be in it (a new route without
a decision fails ``test_every_route_has_a_decision``), with the policy action that guards it —
``bench/route_policy_table.py`` prints the route → action listing from it.
"""
from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from archive_app import policy
from archive_app.accounts import users as accounts
from archive_app.accounts.models import ApiToken
from archive_app.borrowing import loans
from archive_app.corrections import requests as change_requests
from archive_app.extensions import db
from archive_app.intake.models import Record
from archive_app.registers import importing
from archive_app.retention import disposal, holds
from archive_app.visits import cards
from archive_app.visits.follow_ups import FollowUpSettings
from archive_app.wiring import get_index, get_store, loan_settings

from .conftest import PASSWORD, _cleanup, create_users, make_app
from .factories import make_customer, make_record, make_user, user

# ---------------------------------------------------------------------------------------------- the decision table


@dataclass(frozen=True)
class Route:
    """How to fill one endpoint's URL, what guards it, and who must be refused reading it.

    ``values(w)``: the URL's variables from the world (protected objects' ids); ``query``: extra
    arguments (a protected id in a filter, a protected title as a search); ``refused(walker)``:
    a GET must answer 403/404, the same as ``missing(w)`` (the URL with ids nobody has) answers.
    """

    action: str
    values: Callable[[Any], dict[str, Any]] = lambda w: {}
    query: Callable[[Any], dict[str, Any]] = lambda w: {}
    refused: Callable[[Any], bool] = lambda walker: False
    missing: Callable[[Any], dict[str, Any]] | None = None
    # More URLs to walk (no refusal expected): e.g. the walker's own department's file, whose page
    # lists holds on records above their 密级.
    also: Callable[[Any], list[dict[str, Any]]] = lambda w: []


def _secret_record(w) -> dict[str, Any]:
    return {"record_id": w.ids["r_hold"]}


def _secret_file(w) -> dict[str, Any]:
    return {"record_id": w.ids["r_hold"], "file_id": w.ids["r_hold_file"], "page_no": 1}


def _missing_file(w) -> dict[str, Any]:
    return {"record_id": 999999, "file_id": 999999, "page_no": 1}


def _everyone(walker) -> bool:
    return True


def _department_walker(walker) -> bool:
    """Walkers of 销售一部, for whom 销售二部's customer file is out of reach."""
    return walker.department


OTHER_CUSTOMER = lambda w: {"customer_id": w.ids["c_other"]}  # noqa: E731
MISSING_CUSTOMER = lambda w: {"customer_id": 999999}  # noqa: E731
OTHER_LOAN = lambda w: {"loan_id": w.ids["l_pending"]}  # noqa: E731
BATCH = lambda w: {"batch_id": w.ids["b_review"]}  # noqa: E731
DONE_BATCH = lambda w: {"batch_id": w.ids["b_done"]}  # noqa: E731
RECORD_FILTER = lambda w: {"record_id": w.ids["r_top"]}  # noqa: E731
SECRET_QUERY = lambda w: {"q": "机密题名"}  # noqa: E731
OTHER_USER = lambda w: {"user_id": w.ids["u_other"]}  # noqa: E731
OTHER_TOKEN = lambda w: {"token_id": w.ids["t_other"]}  # noqa: E731
OTHER_CARD = lambda w: {"card_id": w.ids["card_other"]}  # noqa: E731
MISSING_CARD = lambda w: {"card_id": 999999}  # noqa: E731
OTHER_CHANGE = lambda w: {"request_id": w.ids["cr_other"]}  # noqa: E731
MISSING_CHANGE = lambda w: {"request_id": 999999}  # noqa: E731
REPORT = lambda w: {"report_id": w.ids["import_report"]}  # noqa: E731
REPORT_SLUGS = ("visits", "grades", "customers", "follow-ups", "borrowing", "records")

ROUTES: dict[str, Route] = {
    # sign-in, static, the catalogue
    "auth.login": Route("(public)"),
    "auth.logout": Route("(signed in)"),
    "auth.login_code": Route("(public: the pending log-in of the session)"),
    "auth.totp": Route("account.second_factor"),
    "static": Route("(public)", lambda w: {"filename": "app.css"}),
    "favicon": Route("(public)"),
    "customers.index": Route("customer.list (rows: visible_customers)", query=SECRET_QUERY),
    "customers.new": Route("customer.create"),
    "customers.show": Route("customer.view", OTHER_CUSTOMER, refused=_department_walker, missing=MISSING_CUSTOMER,
                            also=lambda w: [{"customer_id": w.ids["c_own"]}]),
    "customers.edit": Route("customer.edit", OTHER_CUSTOMER, refused=_department_walker, missing=MISSING_CUSTOMER),
    "customers.reveal": Route("customer.pii_reveal", OTHER_CUSTOMER, missing=MISSING_CUSTOMER),
    "records.upload": Route("record.upload", OTHER_CUSTOMER, refused=_department_walker, missing=MISSING_CUSTOMER),
    "records.show": Route("record.view", _secret_record, refused=_everyone, missing=lambda w: {"record_id": 999999}),
    "records.download": Route("record.download", _secret_file, refused=_everyone, missing=_missing_file),
    "records.searchable_copy": Route("record.download", _secret_file, refused=_everyone, missing=_missing_file),
    "records.page_view": Route("record.read", _secret_file, refused=_everyone, missing=_missing_file),
    "records.page_image": Route("record.read", lambda w: _secret_file(w) | {"kind": "image"}, refused=_everyone,
                                missing=lambda w: _missing_file(w) | {"kind": "image"}),
    "bulk_intake.bulk_upload": Route("record.upload"),
    "records.edit": Route("record.edit / record.correct", _secret_record, refused=_everyone,
                          missing=lambda w: {"record_id": 999999}),
    "review.queue": Route("review.queue (rows: visible_records)"),
    "review.approve": Route("review.queue + record.review", _secret_record),
    "review.approve_many": Route("review.queue (each record: record.review)"),
    "review.send_back": Route("review.queue + record.review", _secret_record),
    # 客户数据变更 and 每季度核实
    "corrections.new": Route("correction.request", OTHER_CUSTOMER, refused=_department_walker,
                             missing=MISSING_CUSTOMER),
    "corrections.mine": Route("correction.view (own requests)"),
    "corrections.queue": Route("correction.view (rows: changes_to_decide)"),
    "corrections.show": Route("correction.view", OTHER_CHANGE, refused=_department_walker, missing=MISSING_CHANGE),
    "corrections.approve": Route("correction.view (service: correction.approve_head / approve_second)", OTHER_CHANGE),
    "corrections.reject": Route("correction.view (service: correction.approve_head / approve_second)", OTHER_CHANGE),
    "corrections.verification_list": Route("verification.view (rows: visible_customers)"),
    "corrections.verify": Route("verification.mark", OTHER_CUSTOMER),
    "corrections.progress": Route("verification.progress (rows: visible_customers)"),
    "search.index": Route("(signed in; hits: record_scope, snippets: record.read)", query=SECRET_QUERY),
    # borrowing
    "loans.new": Route("loan.request", query=lambda w: {"record_ids": w.ids["r_hold"]}),
    "loans.mine": Route("(own requests)"),
    "loans.queue": Route("loan.approve (rows: loans_to_decide; records: projection)"),
    "loans.approve": Route("loan.approve + loan.view", OTHER_LOAN),
    "loans.reject": Route("loan.approve + loan.view", OTHER_LOAN),
    "loans.revoke": Route("loan.revoke + loan.view", OTHER_LOAN),
    "loans.paper": Route("paper.manage (records: projection)"),
    "loans.paper_hand_out": Route("paper.manage (service: paper.hand_out)"),
    "loans.paper_return": Route("paper.manage (service: paper.return)", lambda w: {"record_id": w.ids["r_paper"]}),
    "loans.paper_overdue": Route("paper.manage (records: projection)"),
    "loans.paper_slip": Route("paper.manage (title: record.view)", lambda w: {"loan_id": w.ids["paper_loan"]},
                              missing=lambda w: {"loan_id": 999999}),
    "loans.register": Route("register.view (lines: register scope; records: projection)", query=RECORD_FILTER),
    "loans.register_export": Route("register.view (lines: register scope; records: projection)",
                                   lambda w: {"fmt": "xlsx"}, query=RECORD_FILTER),
    # retention and destruction
    "retention.schedule": Route("retention.view"),
    "retention.schedule_edit": Route("schedule.edit"),
    "retention.holds_page": Route("hold.place (targets: projection; reasons: hold.view)"),
    "retention.hold_place": Route("hold.place (target by number: record.view / customer.view)"),
    "retention.hold_lift": Route("hold.release + hold.view", lambda w: {"hold_id": w.ids["h_record"]}),
    "retention.due": Route("disposal.view_due (records: projection)"),
    "retention.batches": Route("retention.view"),
    "retention.batch_create": Route("disposal.review"),
    "retention.batch": Route("retention.view (records: projection)", BATCH),
    "retention.batch_decide": Route("disposal.review", BATCH),
    "retention.batch_submit": Route("disposal.review", BATCH),
    "retention.batch_approve": Route("disposal.approve", BATCH),
    "retention.batch_send_back": Route("disposal.approve", BATCH),
    "retention.batch_sign": Route("disposal.supervise", BATCH),
    "retention.batch_execute": Route("disposal.execute", BATCH),
    "retention.batch_paper": Route("disposal.execute", DONE_BATCH),
    "retention.batch_register_xlsx": Route("retention.view (records: projection)", DONE_BATCH),
    "retention.batch_certificate": Route("retention.view + record.view of every record listed", DONE_BATCH,
                                         refused=_everyone),
    "retention.register": Route("retention.view (records: projection)"),
    "retention.register_export": Route("retention.view (records: projection)"),
    # people, audit, messages
    "inbox.index": Route("(signed in; messages name records through the projection)"),
    "account.index": Route("token.manage (own account and tokens)"),
    "account.password": Route("password.change (own password)"),
    "account.create_token": Route("token.manage"),
    "language.choose": Route("account.language (own interface language)"),
    "language.before_login": Route("(public: the log-in page's language cookie)"),
    "admin.users": Route("user.manage"),
    "admin.user_detail": Route("user.manage", OTHER_USER),
    "admin.change_user": Route("user.manage", OTHER_USER),
    "admin.deactivate": Route("user.deactivate", OTHER_USER),
    "admin.reset_password": Route("user.manage", OTHER_USER),
    "admin.reset_totp": Route("user.manage", OTHER_USER),
    "admin.reactivate": Route("user.deactivate", OTHER_USER),
    "admin.all_tokens": Route("token.manage_all"),
    "admin.tokens": Route("token.manage"),
    "admin.revoke_token": Route("token.manage (service: token.revoke)", OTHER_TOKEN),
    "audit.audit_log": Route("audit.view"),
    "audit.audit_export": Route("audit.view (details: shown_details; targets: projection)", lambda w: {"fmt": "xlsx"}),
    "audit.audit_verify": Route("audit.verify"),
    "backup.backups_page": Route("backup.view"),
    "api.audit_log": Route("audit.view"),
    "fixity.index": Route("fixity.view (records: projection)"),
    "four_checks.index": Route("record.checks (rows: visible_records)"),
    "four_checks.export": Route("record.checks (rows: visible_records)", lambda w: {"fmt": "xlsx"}),
    "four_checks.rerun": Route("record.checks_run", _secret_record),
    # the JSON API
    "api.me": Route("(signed in)"),
    "api.change_my_password": Route("(signed in: own password)"),
    "api.list_tokens": Route("token.manage"),
    "api.revoke_token": Route("token.revoke", OTHER_TOKEN),
    "api.list_users": Route("user.manage"),
    "api.change_user": Route("user.manage", OTHER_USER),
    "api.deactivate_user": Route("user.deactivate", OTHER_USER),
    "api.reset_password": Route("user.manage", OTHER_USER),
    "api.reactivate_user": Route("user.manage", OTHER_USER),
    "api.openapi": Route("(signed in)"),
    "api.list_customers": Route("customer.list (rows: visible_customers)", query=SECRET_QUERY),
    "api.create_customer": Route("customer.create"),
    "api.get_customer": Route("customer.view", OTHER_CUSTOMER, refused=_department_walker, missing=MISSING_CUSTOMER),
    "api.reveal_customer": Route("customer.pii_reveal", OTHER_CUSTOMER, missing=MISSING_CUSTOMER),
    "api.update_customer": Route("customer.edit", OTHER_CUSTOMER),
    "api.list_records": Route("customer.view (rows: visible_records)", OTHER_CUSTOMER, refused=_department_walker,
                              missing=MISSING_CUSTOMER, also=lambda w: [{"customer_id": w.ids["c_own"]}]),
    "api.create_record": Route("record.upload", OTHER_CUSTOMER),
    "api.intake_file": Route("record.upload"),
    "api.create_change_request": Route("correction.request", OTHER_CUSTOMER),
    "api.list_change_requests": Route("correction.view (own requests / changes_to_decide)"),
    "api.get_change_request": Route("correction.view", OTHER_CHANGE, refused=_department_walker,
                                    missing=MISSING_CHANGE),
    "api.approve_change_request": Route("correction.approve_head (or approve_second; correction.view)", OTHER_CHANGE),
    "api.reject_change_request": Route("correction.approve_head (or approve_second; correction.view)", OTHER_CHANGE),
    "api.customer_history": Route("customer.history", OTHER_CUSTOMER, refused=_department_walker,
                                  missing=MISSING_CUSTOMER),
    "api.verification_list": Route("verification.view (rows: visible_customers)"),
    "api.verify_customer": Route("verification.mark", OTHER_CUSTOMER),
    "api.verification_progress": Route("verification.progress (rows: visible_customers)"),
    "api.get_record": Route("record.view", _secret_record, refused=_everyone, missing=lambda w: {"record_id": 999999}),
    "api.record_checks": Route("record.checks", _secret_record, refused=_everyone,
                               missing=lambda w: {"record_id": 999999}),
    "api.fixity_runs": Route("fixity.view"),
    "api.rerun_checks": Route("record.checks_run", _secret_record),
    "api.get_record_status": Route("record.view", _secret_record, refused=_everyone,
                                   missing=lambda w: {"record_id": 999999}),
    "api.update_record": Route("record.edit", _secret_record),
    "api.add_files": Route("record.edit", _secret_record),
    "api.get_pages": Route("record.read", _secret_file, refused=_everyone, missing=_missing_file),
    "api.download": Route("record.download", _secret_file, refused=_everyone, missing=_missing_file),
    "api.searchable_copy": Route("record.download", _secret_file, refused=_everyone, missing=_missing_file),
    "api.review": Route("record.review", _secret_record),
    "api.review_queue": Route("review.queue (rows: visible_records)"),
    "api.review_many": Route("review.queue (each record: record.review)"),
    "api.send_back": Route("record.review", _secret_record),
    "api.correct_record": Route("record.correct", _secret_record),
    "api.search": Route("(signed in; hits: record_scope, snippets: record.read)", query=SECRET_QUERY),
    "api.create_loan": Route("loan.request"),
    "api.list_loans": Route("(own requests)"),
    "api.loan_queue": Route("loan.approve (rows: loans_to_decide; records: projection)"),
    "api.approve_loan": Route("loan.approve + loan.view", OTHER_LOAN),
    "api.reject_loan": Route("loan.approve + loan.view", OTHER_LOAN),
    "api.revoke_loan": Route("loan.revoke + loan.view", OTHER_LOAN),
    "api.hand_out_paper": Route("paper.hand_out"),
    "api.return_paper": Route("paper.return", lambda w: {"record_id": w.ids["r_paper"]}),
    "api.overdue_paper": Route("paper.manage (records: projection)"),
    "api.loan_register": Route("register.view (lines: register scope; records: projection)", query=RECORD_FILTER),
    "api.loan_register_xlsx": Route("register.view (lines: register scope; records: projection)",
                                    query=RECORD_FILTER),
    "api.loan_register_csv": Route("register.view (lines: register scope; records: projection)",
                                   query=RECORD_FILTER),
    # visits: visitor cards (温馨卡), grades, follow-ups
    "visits.new_card": Route("visit.record", OTHER_CUSTOMER, refused=_department_walker, missing=MISSING_CUSTOMER),
    "visits.show_card": Route("visit.view (scan: projection)", OTHER_CARD, refused=_department_walker,
                              missing=MISSING_CARD, also=lambda w: [{"card_id": w.ids["card_own"]}]),
    "visits.add_visit": Route("visit.record", OTHER_CARD),
    "visits.change_grade": Route("grade.change", OTHER_CUSTOMER),
    "visits.record_follow_up": Route("followup.record", OTHER_CUSTOMER),
    "visits.due_follow_ups": Route("followup.record (rows: own or department; customers: customer.view)"),
    "api.list_cards": Route("visit.view (scan: record.view)", OTHER_CUSTOMER, refused=_department_walker,
                            missing=MISSING_CUSTOMER, also=lambda w: [{"customer_id": w.ids["c_own"]}]),
    "api.create_card": Route("visit.record", OTHER_CUSTOMER),
    "api.get_card": Route("visit.view (scan: record.view)", OTHER_CARD, refused=_department_walker,
                          missing=MISSING_CARD, also=lambda w: [{"card_id": w.ids["card_own"]}]),
    "api.add_visit": Route("visit.record", OTHER_CARD),
    # registers in (登记表导入): the upload page, a held upload's check or run, the stored reports
    "registers.upload": Route("register.import (reports: register.import)"),
    "registers.check_or_run": Route("register.import", lambda w: {"token": "0" * 32}),
    "registers.show_report": Route("register.import", REPORT, missing=lambda w: {"report_id": 999999}),
    "registers.export_report": Route("register.import", lambda w: REPORT(w) | {"fmt": "xlsx"}),
    "api.grade_history": Route("visit.view", OTHER_CUSTOMER, refused=_department_walker, missing=MISSING_CUSTOMER),
    "api.change_grade": Route("grade.change", OTHER_CUSTOMER),
    "api.list_follow_ups": Route("visit.view", OTHER_CUSTOMER, refused=_department_walker, missing=MISSING_CUSTOMER),
    "api.record_follow_up": Route("followup.record", OTHER_CUSTOMER),
    "api.due_follow_ups": Route("followup.record (rows: own or department; customers: customer.view)"),
    # reports out and the landing page: counts scoped by report_department (a head: their department)
    "reports.home": Route("dashboard.view (counts: visible_records, loans_to_decide, changes_to_decide)"),
    "reports.index": Route("report.view"),
    "reports.show": Route("report.view (report.sales / report.archive; rows: report_department)",
                          lambda w: {"slug": "grades"}, also=lambda w: [{"slug": s} for s in REPORT_SLUGS]),
    "reports.export": Route("report.view (report.sales / report.archive; rows: report_department)",
                            lambda w: {"slug": "grades"}, query=lambda w: {"table": "downgrades"},
                            also=lambda w: [{"slug": s} for s in REPORT_SLUGS]),
    "api.list_reports": Route("report.view"),
    "api.get_report": Route("report.view (report.sales / report.archive; rows: report_department)",
                            lambda w: {"slug": "grades"}, also=lambda w: [{"slug": s} for s in REPORT_SLUGS]),
}


# ---------------------------------------------------------------------------------------------- the world


@dataclass(frozen=True)
class Walker:
    username: str
    role: str
    department: bool  # in 销售一部 (else a company-wide account)


# Everyone who must see none of the 机密 records: 销售一部's staff and head (clearance 1-2), and
# company-wide accounts cleared to 内部 (1) only.
WALKERS = [
    Walker("staff", "staff", True), Walker("staff_secret", "staff", True), Walker("head", "dept_head", True),
    Walker("archivist_low", "archivist", False), Walker("reviewer_low", "reviewer", False),
    Walker("auditor_low", "auditor", False), Walker("gm_low", "general_manager", False),
    # last: an administrator may revoke anyone's request, which changes the world
    Walker("admin_low", "admin", False),
]


@dataclass
class World:
    app: Any
    ids: dict[str, int] = field(default_factory=dict)
    # Strings no walker may meet, and strings 销售一部's walkers may not meet (another department's file).
    secrets: list[str] = field(default_factory=list)
    department_secrets: list[str] = field(default_factory=list)


def _build(app) -> World:
    w = World(app)
    now = datetime.now(UTC)
    settings = loan_settings()
    s = db.session
    create_users(app)
    for walker in WALKERS:
        if walker.username.endswith("_low"):
            make_user(walker.role, username=walker.username, clearance=1,
                      department="档案室" if walker.role in ("archivist", "reviewer") else None)
    make_user("dept_head", username="head_b", department="销售二部", clearance=3)
    make_user("staff", username="staff_top", department="销售一部", clearance=3)

    # someone else's account and API token (account pages and the API act on them)
    w.ids["u_other"] = user("staff_other").id
    accounts.create_api_token(s, user("staff_other"), "walk")
    s.commit()
    w.ids["t_other"] = s.scalar(select(ApiToken.id).where(ApiToken.user_id == w.ids["u_other"]))

    own = make_customer(name="张本部", department="销售一部")
    other = make_customer(name="甄秘客户乙", department="销售二部", last_contact_on="2019-03-01")
    w.ids |= {"c_other": other.id, "c_own": own.id}
    # a change request of 销售二部 (filed before any hold reaches the file)
    change = change_requests.file_request(s, user("staff_other"), other.id,
                                          {"changes": {"unit": "甄秘房号U4"}, "reason": "变更理由甄秘V7"},
                                          sensitive_fields=frozenset(), now=now)
    s.commit()
    w.ids["cr_other"] = change.id
    w.department_secrets += ["甄秘房号U4", "变更理由甄秘V7"]

    def secret(customer, title, **kw) -> Record:
        r = make_record(customer, title=title, secrecy=3, **kw)
        w.secrets += [title, r.archival_code]
        return r

    # 机密 records of 销售二部: under a hold, lent on paper (out and overdue; approved, not yet out), asked for
    r_hold = secret(other, "机密题名-冻结H3")
    r_paper = secret(other, "机密题名-原件P1")
    r_paper2 = secret(other, "机密题名-原件P6")
    # and of 销售一部 itself, above its walkers' 密级: asked for by a colleague cleared to 机密, under a hold
    r_top = secret(own, "机密题名-本部门S8")
    plain = make_record(other, title="乙部门题名-内部P2", secrecy=1)
    w.department_secrets += ["甄秘客户乙", other.customer_no, plain.title, plain.archival_code]
    w.ids |= {"r_hold": r_hold.id, "r_hold_file": r_hold.files[0].id, "r_paper": r_paper.id, "r_top": r_top.id}

    # 温馨卡: 销售二部's, received by a 销售一部 consultant (whose due follow-ups must not name the customer),
    # and 销售一部's own, whose scan is a record above its walkers' 密级
    first_days = FollowUpSettings()
    card_other = cards.create_card(s, user("archivist"), other.id, {
        "visit_dates": ["2026-01-05"], "consultant_id": user("staff").id, "grade": "B", "notes": "乙部门温馨卡备注V7",
        "record_id": r_hold.id}, now=now, settings=first_days)
    card_own = cards.create_card(s, user("archivist"), own.id, {"visit_dates": ["2026-01-06"], "record_id": r_top.id},
                                 now=now, settings=first_days)
    w.department_secrets += ["乙部门温馨卡备注V7"]
    w.ids |= {"card_other": card_other.id, "card_own": card_own.id}

    h = holds.place_hold(s, user("archivist"), kind="litigation", reason="诉讼理由甄秘Z9", mandate="(2026)甄秘民初1号",
                         now=now, record_id=r_hold.id).hold
    holds.place_hold(s, user("archivist"), kind="litigation", reason="诉讼理由本部门K2", mandate="(2026)本部门民初2号",
                     now=now, record_id=r_top.id)
    w.secrets += ["诉讼理由甄秘Z9", "(2026)甄秘民初1号", "诉讼理由本部门K2", "(2026)本部门民初2号"]
    w.ids["h_record"] = h.id

    pending = loans.create_request(s, user("staff_other"), kind="view", purpose="核对", settings=settings, now=now,
                                   record_ids=[r_hold.id])
    loans.create_request(s, user("staff_top"), kind="view", purpose="核对", settings=settings, now=now,
                         record_ids=[r_top.id])
    earlier = now - timedelta(days=2)
    out = loans.create_request(s, user("staff_other"), kind="original", purpose="签字", settings=settings,
                               now=earlier, record_ids=[r_paper.id])
    waiting = loans.create_request(s, user("staff_other"), kind="original", purpose="签字", settings=settings,
                                   now=now, record_ids=[r_paper2.id])
    for req, at in ((out, earlier), (waiting, now)):
        loans.approve(s, user("head_b"), req.id, settings=settings, now=at)
        loans.approve(s, user("gm"), req.id, settings=settings, now=at)
    w.ids["paper_loan"] = loans.hand_out(s, user("archivist"), out.id, r_paper.id, pages=2, now=earlier).id
    w.ids["l_pending"] = pending.id
    s.commit()

    # a destroyed 机密 温馨卡 (销毁清册, certificate), then another one under review
    gone = secret(other, "机密题名-销毁G5", record_type="温馨卡")
    batch = disposal.create_batch(s, user("archivist"), now.date(), now=now)
    disposal.decide(s, user("archivist"), batch.id, [i.id for i in batch.items], "destroy", reason="期满", now=now)
    disposal.submit(s, user("archivist"), batch.id, now=now)
    disposal.approve(s, user("gm"), batch.id, now=now)
    disposal.sign_as_supervisor(s, user("auditor"), batch.id, now=now)
    disposal.sign_as_supervisor(s, user("head_b"), batch.id, now=now)
    s.commit()
    disposal.execute(s, get_store(), user("archivist"), batch.id, index=get_index(), now=now)
    assert s.get(Record, gone.id).status == "destroyed"
    due = secret(other, "机密题名-鉴定D4", record_type="温馨卡")
    review = disposal.create_batch(s, user("archivist"), now.date(), now=now)
    assert [i.record_id for i in review.items] == [due.id]
    w.ids |= {"b_done": batch.id, "b_review": review.id}
    s.commit()

    # a register imported (its stored report): one good row, one without a name
    register = "客户姓名,联系电话,部门\r\n导入客户R1,13900000001,销售二部\r\n,13900000002,销售二部\r\n"
    check = importing.check_register(s, "客户登记表.csv", register.encode("utf-8-sig"))
    w.ids["import_report"] = importing.run_import(s, user("archivist"), check, skip_errors=True, now=now,
                                                  settings=FollowUpSettings()).id
    s.commit()
    return w


@pytest.fixture(scope="module")
def world(request, tmp_path_factory):
    app = make_app("sqlite-fs", tmp_path_factory.mktemp("walk"), request)
    app.config["STACK"] = "sqlite-fs"
    with app.app_context():
        w = _build(app)
    yield w
    _cleanup(app)


# ---------------------------------------------------------------------------------------------- the walk


def _url(app, endpoint: str, values: dict[str, Any], query: dict[str, Any]) -> str:
    with app.test_request_context():
        from flask import url_for

        return url_for(endpoint, **values, **query)


def _text(resp) -> str:
    """Everything a person could read in the answer: page, JSON, CSV, XLSX cells, PDF text."""
    data = resp.get_data()
    kind = resp.mimetype or ""
    if kind.endswith("spreadsheetml.sheet"):
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(data))
        return "\n".join(str(c) for ws in book for row in ws.iter_rows(values_only=True) for c in row if c is not None)
    if kind == "application/pdf":
        from pypdf import PdfReader

        return "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(data)).pages)
    return data.decode("utf-8", errors="replace") + "\n" + resp.headers.get("Content-Disposition", "")


def _methods(rule) -> list[str]:
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


def _request(client, method: str, url: str):
    if method == "GET":
        return client.get(url)
    if url.startswith("/api/"):
        return client.open(url, method=method, json={})
    return client.open(url, method=method, data={})


def test_every_route_has_a_decision(world):
    endpoints = {rule.endpoint for rule in world.app.url_map.iter_rules()}
    assert endpoints - ROUTES.keys() == set(), "routes without a decision in ROUTES"
    assert ROUTES.keys() - endpoints == set(), "ROUTES names endpoints that no longer exist"
    for name, route in ROUTES.items():
        first = route.action.split(" ")[0]
        assert first.startswith("(") or first in policy.ACTIONS, (name, route.action)
    # A page routed through ``http.page`` names its action itself: the table must say the same.
    wrong = {}
    for name, view in world.app.view_functions.items():
        guarded = getattr(view, "policy_action", None)
        if guarded is not None and ROUTES[name].action.split(" ")[0] != guarded:
            wrong[name] = (ROUTES[name].action, guarded)
    assert wrong == {}, "ROUTES disagrees with the action the page asks the policy"


def test_those_cleared_see_the_same_objects(world):
    """The walk's objects are really there: an account cleared to 机密 sees their 题名 on the same pages."""
    client = world.app.test_client()
    assert client.post("/login", data={"username": "archivist", "password": PASSWORD}).status_code == 302
    pages = "".join(client.get(u).get_data(as_text=True) for u in (
        "/paper", "/retention/holds", "/loans/register", f"/disposal/batches/{world.ids['b_review']}",
        "/disposal/register", f"/customers/{world.ids['c_other']}"))
    for title in ("机密题名-原件P1", "机密题名-原件P6", "机密题名-冻结H3", "机密题名-鉴定D4", "机密题名-销毁G5",
                  "诉讼理由甄秘Z9"):
        assert title in pages, title
    client.post("/logout")
    assert client.post("/login", data={"username": "head_b", "password": PASSWORD}).status_code == 302
    assert "机密题名-冻结H3" in client.get("/loans/queue").get_data(as_text=True)


@pytest.mark.parametrize("walker", WALKERS, ids=[w.username for w in WALKERS])
def test_no_route_shows_a_walker_what_they_may_not_see(world, walker):
    app = world.app
    client = app.test_client()
    assert client.post("/login", data={"username": walker.username, "password": PASSWORD}).status_code == 302
    forbidden = world.secrets + (world.department_secrets if walker.department else [])
    problems: list[str] = []
    walked = 0
    rules = sorted(app.url_map.iter_rules(), key=lambda r: (r.endpoint == "auth.logout", r.rule))
    for rule in rules:
        route = ROUTES[rule.endpoint]
        url = _url(app, rule.endpoint, route.values(world), route.query(world))
        for extra in route.also(world):
            resp = client.get(_url(app, rule.endpoint, extra, route.query(world)))
            walked += 1
            leaked = [s for s in forbidden if s in _text(resp)]
            if resp.status_code >= 500 or leaked:
                problems.append(f"{walker.username} GET {resp.request.path} → {resp.status_code}: shows {leaked}")
        for method in _methods(rule):
            resp = _request(client, method, url)
            walked += 1
            where = f"{walker.username} {method} {url} → {resp.status_code}"
            if resp.status_code >= 500:
                problems.append(f"{where}: server error")
                continue
            body = _text(resp)
            resp.close()
            leaked = [s for s in forbidden if s in body]
            if leaked:
                problems.append(f"{where}: shows {leaked}")
            if method == "GET" and route.refused(walker):
                if resp.status_code not in (403, 404):
                    problems.append(f"{where}: should be refused")
                elif route.missing is not None:
                    other = client.get(_url(app, rule.endpoint, route.missing(world), route.query(world)))
                    if (other.status_code, _code(other)) != (resp.status_code, _code(resp)):
                        problems.append(f"{where}: a missing id answers {other.status_code} {_code(other)}")
    # the walk ends signed out (auth.logout): sign in again, and see the flash messages left on a page
    assert client.post("/login", data={"username": walker.username, "password": PASSWORD}).status_code == 302
    assert not [s for s in forbidden if s in client.get("/inbox").get_data(as_text=True)]
    assert walked >= 85
    assert not problems, "\n".join(problems)


def _code(resp) -> str | None:
    if resp.is_json:
        return (resp.json or {}).get("error", {}).get("code")
    found = re.search(r'data-error-code="([a-z_]+)"', resp.get_data(as_text=True))
    return found.group(1) if found else None
