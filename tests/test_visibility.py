"""What a user may see of a record (policy.visibility) and the projection every list names it through."""
from __future__ import annotations

from sqlalchemy import select

from archive_app import policy
from archive_app.extensions import db
from archive_app.intake.models import ERASED_NAME, Customer, Record
from archive_app.policy import Visibility
from archive_app.retention import holds
from archive_app.wiring import now

from .factories import make_customer, make_record, user
from .helpers import login


def test_levels_and_the_projection(app, users):
    with app.app_context():
        own = make_customer(department="销售一部")
        inner = make_record(own, title="内部合同", secrecy=1)
        secret = make_record(own, title="机密合同", secrecy=3)
        staff, archivist, auditor = user("staff"), user("archivist"), user("auditor")
        assert policy.visibility(staff, inner) is Visibility.METADATA           # no loan: no content
        assert policy.visibility(staff, inner, grant_checker=lambda r, a: True) is Visibility.CONTENT
        assert policy.visibility(staff, secret) is Visibility.NONE               # above their 密级
        assert policy.visibility(staff, secret, met=True) is Visibility.EXISTS   # a line in a list they read
        assert policy.visibility(archivist, secret) is Visibility.CONTENT
        assert policy.visibility(auditor, secret) is Visibility.METADATA          # never reads
        assert policy.visibility(None, inner, met=True) is Visibility.NONE
        hidden, seen = policy.shown_record(staff, secret), policy.shown_record(archivist, secret)
        assert (hidden.visible, hidden.archival_code, hidden.title, hidden.customer_no) == (
            False, policy.HIDDEN_RECORD, policy.HIDDEN_RECORD, "")
        assert secret.archival_code not in hidden.label and "机密合同" not in hidden.label
        assert seen.label == f"{secret.archival_code} 机密合同" and seen.customer_no == own.customer_no
        assert policy.record_code(staff, secret) == policy.HIDDEN_RECORD
        assert policy.record_code(staff, inner) == inner.archival_code


def test_the_projection_agrees_with_the_sql_filter_for_every_user_and_record(app, users):
    """``sees_metadata`` (rows selected as columns), ``can(.., "record.view", ..)`` and ``visible_records``
    give one answer for every role user and every (department, 密级)."""
    with app.app_context():
        records = [make_record(make_customer(department=d, name=f"客户{d}{s}"), secrecy=s)
                   for d in ("销售一部", "销售二部") for s in (0, 1, 2, 3)]
        for name in users:
            u = user(name)
            in_sql = set(db.session.scalars(policy.visible_records(u, select(Record.id).join(Customer))))
            for r in records:
                by_values = policy.sees_metadata(u, secrecy=r.secrecy, department_id=r.customer.department_id)
                assert by_values == policy.can(u, "record.view", r) == (r.id in in_sql), (name, r.secrecy)
                assert (policy.visibility(u, r) >= Visibility.METADATA) == by_values


def test_the_customer_page_offers_only_what_the_file_allows(app, client, users):
    with app.app_context():
        c = make_customer(department="销售一部")
        make_record(c)
        cid, no = c.id, c.customer_no
    upload, edit = f"/customers/{cid}/upload", f"/customers/{cid}/edit"
    hold_button = f"/retention/holds?target=customer&amp;code={no}"
    login(client, "archivist")
    html = client.get(f"/customers/{cid}").text
    assert upload in html and edit in html and hold_button in html
    with app.app_context():
        holds.place_hold(db.session, user("archivist"), kind="litigation", reason="合同纠纷", mandate="(2026)1号",
                         now=now(), customer_id=cid)
    html = client.get(f"/customers/{cid}").text
    # held: its data may not change (409 customer_on_hold) and it is held already
    assert upload in html and edit not in html and hold_button not in html
    client.post("/logout")
    login(client, "staff")
    html = client.get(f"/customers/{cid}").text
    assert hold_button not in html and "/loans/new?customer_id=" in html
    with app.app_context():
        # what destruction leaves of a customer whose every record is gone (disposal._erase_customers_...)
        db.session.get(Customer, cid).name = ERASED_NAME
        db.session.commit()
    html = client.get(f"/customers/{cid}").text
    assert "/loans/new?customer_id=" not in html  # nothing left to lend
    client.post("/logout")
    login(client, "archivist")
    html = client.get(f"/customers/{cid}").text
    assert upload not in html and edit not in html and hold_button not in html


def test_deciding_a_loan_one_may_not_know_of_answers_like_a_missing_one(app, client, users):
    """Another department's head (or a colleague) learns neither the number nor the state of a request."""
    with app.app_context():
        other = make_customer(department="销售二部", name="李四")
        r = make_record(other)
        from archive_app.borrowing import loans
        from archive_app.wiring import loan_settings

        req = loans.create_request(db.session, user("staff_other"), kind="view", purpose="核对",
                                   settings=loan_settings(), now=now(), record_ids=[r.id])
        db.session.commit()
        loan_id, request_no = req.id, req.request_no
    login(client, "head")  # 销售一部
    for verb in ("approve", "reject", "revoke"):
        hidden = client.post(f"/api/v1/loans/{loan_id}/{verb}", json={"reason": "x"})
        missing = client.post(f"/api/v1/loans/999999/{verb}", json={"reason": "x"})
        assert hidden.status_code == missing.status_code == 404, verb
        assert hidden.json == missing.json and request_no not in hidden.text
    for verb in ("approve", "reject"):
        hidden = client.post(f"/loans/{loan_id}/{verb}", data={"reason": "x"}, follow_redirects=True).text
        missing = client.post(f"/loans/999999/{verb}", data={"reason": "x"}, follow_redirects=True).text
        assert "借阅申请不存在" in hidden and "借阅申请不存在" in missing and request_no not in hidden
    hidden, missing = client.post(f"/loans/{loan_id}/revoke"), client.post("/loans/999999/revoke")
    assert hidden.status_code == missing.status_code == 404
    client.post("/logout")
    login(client, "gm")  # knows every request: told it is not theirs to decide at this step
    assert client.post(f"/api/v1/loans/{loan_id}/approve").json["error"]["code"] == "not_an_approver"


def test_a_holds_reason_is_for_those_who_deal_with_holds(app, client, users):
    """The record page marks a held record for everyone who sees it; the litigation reason and 依据
    only for who may see holds (``hold.view``), as on the customer page."""
    with app.app_context():
        r = make_record(make_customer(department="销售一部"))
        holds.place_hold(db.session, user("archivist"), kind="litigation", reason="甲诉乙合同纠纷",
                         mandate="(2026)沪0101民初7号", now=now(), record_id=r.id)
        rid = r.id
    login(client, "staff")
    html = client.get(f"/records/{rid}").text
    assert "hold-badge" in html and "甲诉乙合同纠纷" not in html and "民初7号" not in html
    client.post("/logout")
    login(client, "head")
    html = client.get(f"/records/{rid}").text
    assert "甲诉乙合同纠纷" in html and "民初7号" in html
