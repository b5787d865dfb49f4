"""Account administration through the web, the API and the command line: deactivate (with the handover),
reactivate, change role/department/clearance with a reason, reset a password (forced change), a user's
own password change, API tokens listed and revoked — and every one of them ends sessions and tokens."""
from __future__ import annotations

import json
import re

from sqlalchemy import select

from archive_app.accounts import users as accounts
from archive_app.accounts.models import ApiToken, User
from archive_app.audit.models import AuditEntry
from archive_app.borrowing.models import Handover
from archive_app.extensions import db

from .conftest import PASSWORD, AuthActions

NEW_PASSWORD = "Evening-Tide-4471"


def _token(app, username: str, name: str = "script") -> str:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        token = accounts.create_api_token(db.session, user, name)
        db.session.commit()
    return token


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _with_token(app, token: str) -> int:
    """The status of one API call made with ``token`` alone (no browser session)."""
    return app.test_client().get("/api/v1/me", headers=_bearer(token)).status_code


def _signed_in(app, username: str, password: str = PASSWORD):
    client = app.test_client()
    assert AuthActions(client).login(username, password).status_code == 302
    assert client.get("/").status_code == 200
    return client


def _sent_to_login(response) -> bool:
    return response.status_code == 302 and "/login" in response.headers["Location"]


def _user(app, user_id: int) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def _audit(app, action: str) -> list[dict]:
    with app.app_context():
        return [json.loads(e.details) for e in db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                                                  .order_by(AuditEntry.seq))]


def test_admin_deactivates_on_the_web_and_the_users_cookie_and_token_stop_at_once(app, users):
    staff = _signed_in(app, "staff")
    token = _token(app, "staff")
    assert _with_token(app, token) == 200
    admin = _signed_in(app, "admin")

    page = admin.get(f"/admin/users/{users['staff']}")
    assert page.status_code == 200 and "停用账号" in page.text and 'name="successor_id"' in page.text
    missing = admin.post(f"/admin/users/{users['staff']}/deactivate", data={"note": "离职"}, follow_redirects=True)
    assert "请选择交接人" in missing.text and _user(app, users["staff"]).is_active_flag

    done = admin.post(f"/admin/users/{users['staff']}/deactivate",
                      data={"successor_id": users["staff_secret"], "note": "离职交接"}, follow_redirects=True)
    assert "已停用 staff" in done.text and "启用账号" in done.text

    assert _sent_to_login(staff.get("/"))
    assert _with_token(app, token) == 401
    assert AuthActions(app.test_client()).login("staff").status_code == 401
    gone = _user(app, users["staff"])
    assert gone.deactivated_at is not None and not gone.is_active_flag
    with app.app_context():
        handover = db.session.scalar(select(Handover))
        assert (handover.from_user_id, handover.to_user_id, handover.note) == (users["staff"], users["staff_secret"],
                                                                               "离职交接")

    # And back: reactivated, the same password signs in again (the old token stays revoked).
    admin.post(f"/admin/users/{users['staff']}/reactivate", data={"reason": "返岗"})
    assert _user(app, users["staff"]).deactivated_at is None
    _signed_in(app, "staff")
    assert _with_token(app, token) == 401
    assert _audit(app, "user.reactivate")[0]["reason"] == "返岗"


def test_deactivation_and_reactivation_through_the_api_and_their_refusals(app, client, users):
    admin, archivist = _bearer(_token(app, "admin")), _bearer(_token(app, "archivist"))
    staff_token = _token(app, "staff")
    url = f"/api/v1/users/{users['staff']}/deactivate"

    refused = client.post(url, json={"successor_id": users["head"]}, headers=archivist)
    assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden"
    assert client.get("/api/v1/users", headers=archivist).status_code == 403
    own = client.post(f"/api/v1/users/{users['admin']}/deactivate", json={"successor_id": users["head"]},
                      headers=admin)
    assert own.status_code == 409 and own.json["error"]["code"] == "cannot_deactivate_self"
    assert client.post(url, json={}, headers=admin).json["error"]["code"] == "successor_required"
    assert client.post(url, json={"successor_id": "x"}, headers=admin).json["error"]["code"] == "invalid_successor"
    nobody = client.post("/api/v1/users/99999/deactivate", json={"successor_id": users["head"]}, headers=admin)
    assert nobody.status_code == 404 and nobody.json["error"]["code"] == "user_not_found"
    assert client.get("/api/v1/me", headers=_bearer(staff_token)).status_code == 200

    done = client.post(url, json={"successor_id": users["head"], "note": "调岗"}, headers=admin)
    assert done.status_code == 200, done.json
    assert done.json["user"]["active"] is False and done.json["handover"]["to"] == "head"
    assert client.get("/api/v1/me", headers=_bearer(staff_token)).status_code == 401
    listed = {u["username"]: u for u in client.get("/api/v1/users", headers=admin).json["items"]}
    assert listed["staff"]["active"] is False and listed["staff"]["deactivated_at"]
    again = client.post(url, json={"successor_id": users["head"]}, headers=admin)
    assert again.status_code == 409 and again.json["error"]["code"] == "already_inactive"

    back = client.post(f"/api/v1/users/{users['staff']}/reactivate", json={"reason": "误操作"}, headers=admin)
    assert back.status_code == 200 and back.json["active"] is True
    assert client.post(f"/api/v1/users/{users['staff']}/reactivate", headers=admin).status_code == 409


def test_role_department_and_clearance_change_needs_a_reason_is_audited_and_ends_sessions(app, client, users):
    admin = _bearer(_token(app, "admin"))
    staff_token = _token(app, "staff")
    staff = _signed_in(app, "staff")
    url = f"/api/v1/users/{users['staff']}"

    no_reason = client.patch(url, json={"role": "dept_head"}, headers=admin)
    assert no_reason.status_code == 400 and no_reason.json["error"]["code"] == "reason_required"
    blank = client.patch(url, json={"role": "dept_head", "reason": "  "}, headers=admin)
    assert blank.json["error"]["code"] == "reason_required"
    assert client.patch(url, json={"role": "boss", "reason": "x"}, headers=admin).json["error"]["code"] == \
        "invalid_role"
    assert client.patch(url, json={"clearance": 7, "reason": "x"}, headers=admin).json["error"]["code"] == \
        "invalid_clearance"
    assert client.patch(url, json={"clearance": 1, "reason": "x"}, headers=admin).json["error"]["code"] == \
        "no_change"
    by_staff = client.patch(url, json={"clearance": 3, "reason": "自己提权"}, headers=_bearer(staff_token))
    assert by_staff.status_code == 403
    # Every refusal left the user signed in and their token working.
    assert staff.get("/").status_code == 200
    assert client.get("/api/v1/me", headers=_bearer(staff_token)).status_code == 200

    changed = client.patch(url, json={"role": "dept_head", "department": "销售二部", "clearance": 2,
                                      "reason": "晋升为销售二部负责人"}, headers=admin)
    assert changed.status_code == 200, changed.json
    assert (changed.json["role"], changed.json["department"], changed.json["clearance"]) == ("dept_head", "销售二部", 2)
    assert _sent_to_login(staff.get("/"))
    assert client.get("/api/v1/me", headers=_bearer(staff_token)).status_code == 401
    [entry] = _audit(app, "user.change")
    assert entry["reason"] == "晋升为销售二部负责人"
    assert entry["before"] == {"role": "staff", "department": "销售一部", "clearance": 1}
    assert entry["after"] == {"role": "dept_head", "department": "销售二部", "clearance": 2}

    cleared = client.patch(url, json={"department": None, "reason": "调至总部"}, headers=admin)
    assert cleared.status_code == 200 and cleared.json["department"] is None


def test_the_last_active_admin_cannot_stop_being_one(app, client, users):
    admin = _signed_in(app, "admin")
    demote = admin.post(f"/admin/users/{users['admin']}/change",
                        data={"role": "auditor", "department": "", "clearance": "3", "reason": "交接"},
                        follow_redirects=True)
    assert "最后一位在职的系统管理员" in demote.text
    assert _user(app, users["admin"]).role == "admin"

    # With a second administrator it is allowed (and ends the demoted admin's own session).
    admin.post(f"/admin/users/{users['archivist']}/change",
               data={"role": "admin", "department": "档案室", "clearance": "3", "reason": "第二位管理员"})
    assert _user(app, users["archivist"]).role == "admin"
    assert admin.get("/").status_code == 200
    admin.post(f"/admin/users/{users['admin']}/change",
               data={"role": "auditor", "department": "", "clearance": "3", "reason": "交接"})
    assert _user(app, users["admin"]).role == "auditor"
    assert _sent_to_login(admin.get("/"))


def test_reset_password_on_the_web_forces_a_change_before_anything_else(app, users):
    staff = _signed_in(app, "staff")
    token = _token(app, "staff")
    admin = _signed_in(app, "admin")

    reset = admin.post(f"/admin/users/{users['staff']}/password-reset", data={"password": ""})
    assert reset.status_code == 200
    temporary = re.search(r'<code id="temporary-password">([^<]+)</code>', reset.text).group(1)
    assert _sent_to_login(staff.get("/"))
    assert _with_token(app, token) == 401
    assert AuthActions(app.test_client()).login("staff", PASSWORD).status_code == 401

    fresh = app.test_client()
    assert AuthActions(fresh).login("staff", temporary).status_code == 302
    for path in ("/", "/search", "/account", "/loans/mine"):
        landed = fresh.get(path)
        assert landed.status_code == 302 and landed.headers["Location"].endswith("/account/password"), path
    api = fresh.get("/api/v1/customers")
    assert api.status_code == 403 and api.json["error"]["code"] == "password_change_required"
    assert fresh.get("/account/password").status_code == 200

    weak = fresh.post("/account/password", data={"current_password": temporary, "new_password": "1234567890",
                                                 "confirm_password": "1234567890"})
    assert weak.status_code == 400 and "常见" in weak.text
    assert fresh.get("/").headers["Location"].endswith("/account/password")
    ok = fresh.post("/account/password", data={"current_password": temporary, "new_password": NEW_PASSWORD,
                                               "confirm_password": NEW_PASSWORD})
    assert ok.status_code == 302
    assert fresh.get("/").status_code == 200
    assert AuthActions(app.test_client()).login("staff", temporary).status_code == 401
    assert AuthActions(app.test_client()).login("staff", NEW_PASSWORD).status_code == 302
    assert _audit(app, "user.password_reset")[0] == {"username": "staff", "generated": True}


def test_reset_password_through_the_api_with_a_chosen_password(app, client, users):
    admin = _bearer(_token(app, "admin"))
    url = f"/api/v1/users/{users['staff']}/password-reset"
    weak = client.post(url, json={"password": "password123"}, headers=admin)
    assert weak.status_code == 400 and weak.json["error"]["code"] == "weak_password"
    assert client.post(url, json={"password": "staff-Blue-River-8"}, headers=admin).json["error"]["code"] == \
        "weak_password"
    assert client.post(url, headers=_bearer(_token(app, "archivist"))).status_code == 403
    done = client.post(url, json={"password": "Temporary-Lantern-62"}, headers=admin)
    assert done.status_code == 200 and done.json["temporary_password"] == "Temporary-Lantern-62"
    assert done.json["user"]["must_change_password"] is True
    generated = client.post(url, headers=admin)
    assert generated.status_code == 200 and len(generated.json["temporary_password"]) >= 10


def test_own_password_change_keeps_this_session_and_ends_the_others(app, users):
    here, elsewhere = _signed_in(app, "staff"), _signed_in(app, "staff")
    token = _token(app, "staff")

    wrong = here.post("/account/password", data={"current_password": "not-my-password", "new_password": NEW_PASSWORD,
                                                  "confirm_password": NEW_PASSWORD})
    assert wrong.status_code == 400 and "当前密码不正确" in wrong.text
    mismatch = here.post("/account/password", data={"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                                                     "confirm_password": NEW_PASSWORD + "x"})
    assert mismatch.status_code == 400 and "不一致" in mismatch.text
    named = here.post("/account/password", data={"current_password": PASSWORD, "new_password": "staff-2031-Harbor",
                                                 "confirm_password": "staff-2031-Harbor"})
    assert named.status_code == 400 and "用户名" in named.text
    assert elsewhere.get("/").status_code == 200

    done = here.post("/account/password", data={"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                                                "confirm_password": NEW_PASSWORD}, follow_redirects=True)
    assert "密码已修改" in done.text and "1 个 API 令牌已撤销" in done.text
    assert here.get("/").status_code == 200
    assert _sent_to_login(elsewhere.get("/"))
    assert _with_token(app, token) == 401
    assert AuthActions(app.test_client()).login("staff", PASSWORD).status_code == 401
    assert AuthActions(app.test_client()).login("staff", NEW_PASSWORD).status_code == 302


def test_own_password_change_through_the_api(app, client, users):
    token = _token(app, "reviewer")
    url = "/api/v1/me/password"
    wrong = client.post(url, json={"current_password": "nope", "new_password": NEW_PASSWORD}, headers=_bearer(token))
    assert wrong.status_code == 400 and wrong.json["error"]["code"] == "wrong_password"
    same = client.post(url, json={"current_password": PASSWORD, "new_password": PASSWORD}, headers=_bearer(token))
    assert same.json["error"]["code"] == "same_password"
    done = client.post(url, json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}, headers=_bearer(token))
    assert done.status_code == 200 and done.json == {"changed": True, "tokens_revoked": 1}
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 401
    # Through the browser session the change keeps that session.
    browser = _signed_in(app, "reviewer", NEW_PASSWORD)
    again = browser.post(url, json={"current_password": NEW_PASSWORD, "new_password": "Copper-Kettle-Nine-3"})
    assert again.status_code == 200
    assert browser.get("/api/v1/me").status_code == 200


def test_tokens_listed_and_revoked_own_and_by_the_admin(app, client, users):
    staff_a, staff_b = _token(app, "staff", "scanner"), _token(app, "staff", "laptop")
    other = _token(app, "staff_other", "other")
    admin = _bearer(_token(app, "admin"))

    mine = client.get("/api/v1/tokens", headers=_bearer(staff_a)).json["items"]
    assert sorted(t["name"] for t in mine) == ["laptop", "scanner"]
    assert "token_hash" not in mine[0]
    assert client.get("/api/v1/tokens?all=1", headers=_bearer(staff_a)).status_code == 403
    everyone = client.get("/api/v1/tokens?all=1", headers=admin).json["items"]
    assert {t["username"] for t in everyone} == {"staff", "staff_other", "admin"}
    ids = {t["name"]: t["id"] for t in everyone}

    # Someone else's token answers as a missing one.
    hidden = client.delete(f"/api/v1/tokens/{ids['other']}", headers=_bearer(staff_a))
    assert hidden.status_code == 404 and hidden.json["error"]["code"] == "token_not_found"
    assert client.get("/api/v1/me", headers=_bearer(other)).status_code == 200

    own = client.delete(f"/api/v1/tokens/{ids['laptop']}", headers=_bearer(staff_a))
    assert own.status_code == 200 and own.json["revoked_at"]
    assert client.get("/api/v1/me", headers=_bearer(staff_b)).status_code == 401
    assert client.get("/api/v1/me", headers=_bearer(staff_a)).status_code == 200
    assert client.delete(f"/api/v1/tokens/{ids['laptop']}", headers=_bearer(staff_a)).status_code == 409

    assert client.delete(f"/api/v1/tokens/{ids['other']}", headers=admin).status_code == 200
    assert client.get("/api/v1/me", headers=_bearer(other)).status_code == 401


def test_tokens_on_my_account_page_and_the_admins_list(app, users):
    staff = _signed_in(app, "staff")
    created = staff.post("/account/tokens", data={"name": "扫描工作站"})
    token = re.search(r'<code id="new-token">([^<]+)</code>', created.text).group(1)
    assert _with_token(app, token) == 200
    with app.app_context():
        token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.name == "扫描工作站"))
    assert staff.get("/admin/tokens").status_code == 403
    assert "扫描工作站" in staff.get("/account").text

    admin = _signed_in(app, "admin")
    listed = admin.get("/admin/tokens")
    assert listed.status_code == 200 and "扫描工作站" in listed.text and "staff" in listed.text
    revoked = admin.post(f"/tokens/{token_id}/revoke", data={"back": "all"})
    assert revoked.headers["Location"].endswith("/admin/tokens")
    assert _with_token(app, token) == 401
    assert "已撤销" in staff.get("/account").text


def test_weak_passwords_refused_when_creating_a_user(app, users):
    admin = _signed_in(app, "admin")
    for weak in ("12345678", "password123", "newclerk-2031"):
        page = admin.post("/admin/users", data={"username": "newclerk", "password": weak, "role": "staff",
                                                "department": "销售一部"}, follow_redirects=True)
        assert "密码" in page.text
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "newclerk")) is None
    admin.post("/admin/users", data={"username": "newclerk", "password": NEW_PASSWORD, "role": "staff"})
    assert AuthActions(app.test_client()).login("newclerk", NEW_PASSWORD).status_code == 302


def test_account_commands(app, runner, users):
    staff_token = _token(app, "staff")
    changed = runner.invoke(args=["set-user", "staff", "--clearance", "2", "--reason", "项目需要"])
    assert changed.exit_code == 0, changed.output
    assert _user(app, users["staff"]).clearance == 2
    assert runner.invoke(args=["set-user", "staff", "--clearance", "3"]).exit_code != 0  # --reason is required
    assert _audit(app, "user.change")[0]["reason"] == "项目需要"

    reset = runner.invoke(args=["reset-password", "staff"])
    assert reset.exit_code == 0, reset.output
    temporary = reset.output.strip().rsplit(" ", 1)[-1]
    client = app.test_client()
    assert AuthActions(client).login("staff", temporary).status_code == 302
    assert client.get("/").headers["Location"].endswith("/account/password")

    with app.app_context():
        head = db.session.get(User, users["head"])
        head.totp_secret = "JBSWY3DPEHPK3PXP"
        db.session.commit()
    assert "totp_not_enabled" in runner.invoke(args=["reset-totp", "staff"]).output
    assert runner.invoke(args=["reset-totp", "head"]).exit_code == 0
    assert _user(app, users["head"]).totp_secret is None

    tokens = [_token(app, "head", "a"), _token(app, "head", "b")]
    with app.app_context():
        first = db.session.scalar(select(ApiToken.id).where(ApiToken.name == "a"))
    assert runner.invoke(args=["revoke-token", str(first)]).exit_code == 0
    assert (_with_token(app, tokens[0]), _with_token(app, tokens[1])) == (401, 200)
    all_of_head = runner.invoke(args=["revoke-token", "--user", "head"])
    assert all_of_head.exit_code == 0 and "Revoked 1 token(s)" in all_of_head.output
    assert _with_token(app, tokens[1]) == 401

    self_off = runner.invoke(args=["deactivate-user", "admin", "--successor", "gm"])
    assert self_off.exit_code != 0 and "cannot_deactivate_self" in self_off.output
    off = runner.invoke(args=["deactivate-user", "staff", "--successor", "staff_secret", "--note", "离职"])
    assert off.exit_code == 0, off.output
    assert not _user(app, users["staff"]).is_active_flag
    assert _with_token(app, staff_token) == 401
    assert runner.invoke(args=["reactivate-user", "staff", "--by", "archivist"]).exit_code != 0  # not an admin
    assert runner.invoke(args=["reactivate-user", "staff"]).exit_code == 0
    assert _user(app, users["staff"]).is_active_flag
