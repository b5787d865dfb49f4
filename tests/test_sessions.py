"""Sessions end when they should: a logged-out cookie, a raised session version, revoked tokens."""
from __future__ import annotations

from sqlalchemy import select

from archive_app.accounts import users as accounts
from archive_app.accounts.models import ApiToken, User
from archive_app.accounts.sessions import end_sessions
from archive_app.clock import utcnow
from archive_app.extensions import db


def _session_cookie(client) -> str:
    return client.get_cookie("session").value


def test_a_cookie_kept_from_before_logout_is_refused(app, users, auth, client):
    auth.login("staff")
    assert client.get("/").status_code in (200, 302)
    stolen = _session_cookie(client)
    assert client.get("/").status_code == 200
    auth.logout()

    replay = app.test_client()
    replay.set_cookie("session", stolen)
    resp = replay.get("/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_logout_ends_the_users_other_sessions(app, users, auth, client):
    other = app.test_client()
    other.post("/login", data={"username": "staff", "password": auth_password()})
    assert other.get("/").status_code == 200
    auth.login("staff")
    auth.logout()
    assert other.get("/").status_code == 302


def test_raising_the_version_ends_sessions_and_revokes_tokens(app, users, auth, client):
    auth.login("staff")
    with app.app_context():
        staff = db.session.get(User, users["staff"])
        token = accounts.create_api_token(db.session, staff, "script")
        db.session.commit()
    api = app.test_client()
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    with app.app_context():
        staff = db.session.get(User, users["staff"])
        assert end_sessions(db.session, staff, utcnow(), revoke_tokens=True) == 1
        db.session.commit()
        assert db.session.scalar(select(ApiToken.revoked_at).where(ApiToken.user_id == staff.id)) is not None

    assert client.get("/").status_code == 302
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def auth_password() -> str:
    from tests.conftest import PASSWORD

    return PASSWORD
