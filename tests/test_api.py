"""The JSON API: tokens, one error shape, CSRF for session writes, an OpenAPI document that covers it all."""
from __future__ import annotations

import re

from archive_app.accounts import users as accounts
from archive_app.accounts.models import User
from archive_app.extensions import db

from .conftest import csrf_from, make_app
from .helpers import PDF_MIN, login, new_customer


def _token(app, username: str) -> str:
    with app.app_context():
        user = db.session.query(User).filter_by(username=username).one()
        token = accounts.create_api_token(db.session, user, "test")
        db.session.commit()
    return token


def test_token_auth_and_error_shape(app, client, users):
    token = _token(app, "archivist")
    h = {"Authorization": f"Bearer {token}"}
    me = client.get("/api/v1/me", headers=h)
    assert me.status_code == 200 and me.json["role"] == "archivist"
    bad = client.get("/api/v1/me", headers={"Authorization": "Bearer arc_wrong"})
    assert bad.status_code == 401 and set(bad.json["error"]) == {"code", "message"}
    created = client.post("/api/v1/customers", json={"name": "企业甲", "kind": "company",
                                                     "id_number": "91350100M000100Y43"}, headers=h)
    assert created.status_code == 201, created.json
    invalid = client.post("/api/v1/customers", json={"name": "企业乙", "kind": "company", "id_number": "123"},
                          headers=h)
    assert invalid.status_code == 400 and invalid.json["error"]["code"] == "invalid_credit_code"
    not_json = client.post("/api/v1/customers", data="x", headers=h)
    assert not_json.json["error"]["code"] == "invalid_json"
    missing = client.get("/api/v1/customers/9999", headers=h)
    assert missing.status_code == 404 and missing.json["error"]["code"] == "customer_not_found"
    unknown = client.get("/api/v1/nothing-here", headers=h)
    assert unknown.status_code == 404 and unknown.json["error"]["code"] == "not_found"


def test_openapi_covers_every_api_route(app, client, users):
    login(client, "staff")
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.")
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        assert path in doc["paths"], path
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert method.lower() in doc["paths"][path], (method, path)


def test_review_by_someone_else_files_the_record(app, client, users):
    login(client, "admin")
    c = new_customer(client)
    from .helpers import upload

    rec = upload(client, c["id"], [(PDF_MIN, "a.pdf")]).json
    own = client.post(f"/api/v1/records/{rec['id']}/review")
    assert own.status_code == 403 and own.json["error"]["code"] == "reviewer_is_uploader"
    client.post("/logout")
    login(client, "reviewer")
    queue = client.get("/api/v1/review-queue").json["items"]
    assert [r["id"] for r in queue] == [rec["id"]]
    done = client.post(f"/api/v1/records/{rec['id']}/review")
    assert done.status_code == 200 and done.json["status"] == "filed"
    assert done.json["reviewed_by"] == users["reviewer"]
    again = client.post(f"/api/v1/records/{rec['id']}/review")
    assert again.status_code == 409 and again.json["error"]["code"] == "already_filed"
    # a filed record's metadata can no longer be edited
    client.post("/logout")
    login(client, "archivist")
    edit = client.patch(f"/api/v1/records/{rec['id']}", json={"title": "改名"})
    assert edit.status_code == 403


def test_csrf_is_enforced(tmp_path, request, users_factory):
    app = make_app("sqlite-fs", tmp_path, request, {"WTF_CSRF_ENABLED": True, "TESTING": False})
    users_factory(app)
    client = app.test_client()
    assert client.post("/login", data={"username": "archivist", "password": "correct-horse-9"}).status_code == 400
    page = client.get("/login")
    resp = client.post("/login", data={"username": "archivist", "password": "correct-horse-9",
                                       "csrf_token": csrf_from(page.text)})
    assert resp.status_code == 302
    cookie = next(c for c in resp.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    # session-authenticated API writes need the X-CSRFToken header
    refused = client.post("/api/v1/customers", json={"name": "张三"})
    assert refused.status_code == 400 and refused.json["error"]["code"] == "csrf_failed"
    token = csrf_from(client.get("/customers/new").text)
    ok = client.post("/api/v1/customers", json={"name": "张三"}, headers={"X-CSRFToken": token})
    assert ok.status_code == 201


def test_numbers_too_large_for_any_id_are_refused_not_crashed(app, client, users):
    """Ids, pages and filters past 64 (or 32) bits answer 404/400 with a code, never a 500."""
    login(client, "archivist")
    huge = "9" * 30
    assert client.get(f"/api/v1/records/{huge}").status_code == 404
    assert client.get(f"/api/v1/customers/{huge}").status_code == 404
    assert client.get(f"/records/{huge}").status_code == 404
    resp = client.get("/api/v1/customers", query_string={"page": huge})
    assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_parameter"
    for key in ("year_from", "customer_id", "page"):
        resp = client.get("/api/v1/search", query_string={"q": "合同", key: huge})
        assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_parameter", key


def test_a_method_the_url_does_not_take_is_answered_with_allow(app, client, users):
    login(client, "archivist")
    resp = client.open("/api/v1/me", method="TRACE")
    assert resp.status_code == 405 and resp.json["error"]["code"] == "method_not_allowed"
    assert "GET" in resp.headers["Allow"]
    page = client.open("/customers/new", method="DELETE")
    assert page.status_code == 405 and "POST" in page.headers["Allow"]
