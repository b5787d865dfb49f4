"""One access policy, asked everywhere: anonymous users get nothing; clearance and department hold."""
from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from archive_app import policy
from archive_app.extensions import db

from .factories import make_customer, make_record, make_user
from .helpers import PDF_MIN, borrow, login, make_pdf, new_customer, upload

PUBLIC_ENDPOINTS = {"auth.login", "static", "favicon"}


def _fill(rule) -> str:
    url = re.sub(r"<any\(([a-z_]+)[^)]*\):[a-z_]+>", r"\1", rule.rule)
    return re.sub(r"<(?:int:)?[a-z_]+>", "1", url)


def test_every_route_refuses_anonymous_users(app, client, users):
    # Seed data so guessed ids (1) exist and a leak would show.
    login(client, "archivist")
    c = new_customer(client)
    upload(client, c["id"], [(PDF_MIN, "a.pdf")])
    client.post("/logout")
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        url = _fill(rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            resp = client.open(url, method=method)
            checked += 1
            if url.startswith("/api/"):
                assert resp.status_code == 401, (method, url, resp.status_code)
                assert resp.json["error"]["code"] == "unauthorized"
            else:
                assert resp.status_code in (302, 400), (method, url, resp.status_code)
                if resp.status_code == 302:
                    assert "/login" in resp.location
            assert "王小明" not in resp.get_data(as_text=True)
    assert checked >= 25


def test_login_page_is_public_but_shows_no_data(client, users):
    resp = client.get("/login")
    assert resp.status_code == 200 and "登录" in resp.text


def test_staff_cannot_download_above_clearance(app, client, users):
    login(client, "archivist")
    c = new_customer(client, department="销售一部")
    internal = upload(client, c["id"], [(PDF_MIN, "a.pdf")], secrecy=1).json
    secret = upload(client, c["id"], [(make_pdf(marker="s"), "s.pdf")], secrecy=2).json
    client.post("/logout")

    loan = borrow(client, "staff", [internal["id"]])  # 销售一部, clearance 内部; approved download loan
    ok = client.get(f"/api/v1/records/{internal['id']}/files/{internal['files'][0]['id']}/content")
    # a borrower's copy is watermarked with the request number (tests/test_watermark.py)
    assert ok.status_code == 200 and ok.data.startswith(b"%PDF-") and ok.data != PDF_MIN
    assert loan["request_no"] in PdfReader(io.BytesIO(ok.data)).pages[0].extract_text()
    for url in (f"/api/v1/records/{secret['id']}/files/{secret['files'][0]['id']}/content",
                f"/records/{secret['id']}/files/{secret['files'][0]['id']}",
                f"/api/v1/records/{secret['id']}", f"/records/{secret['id']}"):
        resp = client.get(url)
        assert resp.status_code == 404, url  # not even its existence is confirmed
    listing = client.get(f"/api/v1/customers/{c['id']}/records").json["items"]
    assert [r["id"] for r in listing] == [internal["id"]]
    page = client.get(f"/customers/{c['id']}").text
    assert internal["archival_code"] in page and secret["archival_code"] not in page
    client.post("/logout")

    login(client, "staff_secret")  # same department, clearance 秘密: sees it, but needs a loan to download
    resp = client.get(f"/api/v1/records/{secret['id']}/files/{secret['files'][0]['id']}/content")
    assert resp.status_code == 403 and resp.json["error"]["code"] == "no_loan"
    client.post("/logout")
    borrow(client, "staff_secret", [secret["id"]])
    resp = client.get(f"/api/v1/records/{secret['id']}/files/{secret['files'][0]['id']}/content")
    assert resp.status_code == 200


@pytest.mark.parametrize("clearance", [0, 1, 2, 3])
def test_staff_see_the_records_of_their_department_up_to_their_clearance(app, client, clearance):
    with app.app_context():
        make_user("staff", username="clerk", department="销售一部", clearance=clearance)
        ours = make_customer(department="销售一部")
        theirs = make_customer(department="销售二部")
        by_secrecy = {level: make_record(ours, secrecy=level).id for level in range(4)}
        make_record(theirs, secrecy=0)
        ours_id, theirs_id = ours.id, theirs.id
        db.session.remove()
    login(client, "clerk")
    listed = [r["id"] for r in client.get(f"/api/v1/customers/{ours_id}/records").json["items"]]
    assert sorted(listed) == [by_secrecy[level] for level in range(clearance + 1)]
    for level, rid in by_secrecy.items():
        assert client.get(f"/api/v1/records/{rid}").status_code == (200 if level <= clearance else 404), level
    assert client.get(f"/api/v1/customers/{theirs_id}").status_code == 404


def test_other_department_sees_nothing(app, client, users):
    login(client, "archivist")
    c = new_customer(client, department="销售一部")
    rec = upload(client, c["id"], [(PDF_MIN, "a.pdf")], secrecy=0).json
    client.post("/logout")
    login(client, "staff_other")  # 销售二部, clearance 机密
    assert client.get(f"/api/v1/customers/{c['id']}").status_code == 404
    assert client.get(f"/customers/{c['id']}").status_code == 404
    assert client.get(f"/api/v1/records/{rec['id']}").status_code == 404
    assert client.get("/api/v1/customers").json["total"] == 0
    assert client.get("/api/v1/customers?q=王").json["items"] == []


@pytest.mark.parametrize("username,allowed", [
    ("staff", False), ("head", False), ("auditor", False), ("reviewer", False), ("archivist", True), ("admin", True)])
def test_who_may_open_a_customer_file(app, client, users, username, allowed):
    login(client, username)
    resp = client.post("/api/v1/customers", json={"name": "赵六"})
    assert (resp.status_code == 201) is allowed, resp.json


def test_auditor_sees_catalogue_but_cannot_download(app, client, users):
    login(client, "archivist")
    c = new_customer(client)
    rec = upload(client, c["id"], [(PDF_MIN, "a.pdf")]).json
    client.post("/logout")
    login(client, "auditor")
    assert client.get(f"/api/v1/records/{rec['id']}").status_code == 200
    resp = client.get(f"/api/v1/records/{rec['id']}/files/{rec['files'][0]['id']}/content")
    assert resp.status_code == 403 and resp.json["error"]["code"] == "forbidden"


def test_inactive_user_has_no_rights():
    class Ghost:
        is_authenticated = True
        is_active = False
        role = "admin"

    assert not policy.can(Ghost(), "user.manage")
    assert not policy.can(None, "customer.list")
    with pytest.raises(ValueError):
        policy.can(None, "no.such.action")


def test_every_response_forbids_framing_sniffing_and_caching(app, client, users):
    """Forms that approve or destroy cannot be framed; signed-in pages and API answers are not cached."""
    login(client, "archivist")
    for resp in (client.get("/"), client.get("/api/v1/me"), client.get("/no-such-page")):
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] == "same-origin"
        assert "no-store" in resp.headers["Cache-Control"]
    client.post("/logout")
    assert client.get("/login").headers["X-Frame-Options"] == "DENY"


def test_another_departments_customer_answers_like_a_missing_one(app, client, users):
    """No existence oracle: an invisible customer file and a missing one get the same 404."""
    login(client, "archivist")
    other = new_customer(client, department="销售二部")
    client.post("/logout")
    login(client, "staff")  # 销售一部
    hidden = client.get(f"/api/v1/customers/{other['id']}")
    missing = client.get("/api/v1/customers/999999")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json == missing.json
    assert client.get(f"/customers/{other['id']}").status_code == 404


def test_who_handles_a_customer_sees_phones_and_id_numbers_whole_everyone_else_masked():
    from archive_app.accounts.models import User
    from archive_app.intake.models import Customer

    def person(role: str, uid: int, department_id: int | None = 1) -> User:
        return User(id=uid, role=role, department_id=department_id, is_active_flag=True, clearance=3)

    customer = Customer(department_id=1, consultant_id=2, phones="13912345678", id_number="110105199003071234")
    handlers = {"archivist": person("archivist", 1, None), "consultant": person("staff", 2),
                "head": person("dept_head", 3)}
    others = {"colleague": person("staff", 4), "other head": person("dept_head", 5, 2),
              "reviewer": person("reviewer", 6, None), "admin": person("admin", 7, None),
              "gm": person("general_manager", 8, None), "auditor": person("auditor", 9, None),
              # the consultant named on a customer of another department does not see that customer at all
              "moved consultant": person("staff", 2, 2)}
    for name, u in handlers.items():
        shown = policy.shown_personal(u, customer)
        assert (shown.phones, shown.id_number, shown.whole) == ("13912345678", "110105199003071234", True), name
    for name, u in others.items():
        shown = policy.shown_personal(u, customer)
        assert (shown.phones, shown.id_number, shown.whole) == ("139****5678", "110105********1234", False), name
        # after the audited reveal (the caller's part) the same projection is whole
        assert policy.shown_personal(u, customer, revealed=True).phones == "13912345678", name
    # a register's rows belong to no customer yet: whole for the archivist who imports them only
    assert policy.shown_text(handlers["archivist"], None, "电话号码格式不正确：13912345678X").endswith("13912345678X")
    assert policy.shown_text(others["admin"], None, "电话号码格式不正确：13912345678X") == "电话号码格式不正确：139*****678X"
    assert not policy.can(None, "customer.pii_whole", customer)
