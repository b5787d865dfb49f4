"""Log-in throttling, the TOTP second factor and session timeouts.

Time is the app's clock (``app.config["CLOCK"]``), moved by the tests; nothing is mocked. The
cross-worker proof of the throttle, against a real gunicorn, is in ``test_login_workers.py``.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

import pyotp
import pytest
from sqlalchemy import func, select

from archive_app.accounts import second_factor, throttle
from archive_app.accounts import users as accounts
from archive_app.accounts.models import LoginFailure, User
from archive_app.accounts.sessions import stamp
from archive_app.audit.models import AuditEntry
from archive_app.config import load_config
from archive_app.errors import ConfigError, Forbidden
from archive_app.extensions import db

from .conftest import PASSWORD

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
SETTINGS = throttle.ThrottleSettings()  # the defaults: 15 min, 5 per account, 20 per address, 30 s first


class Clock:
    """The app's clock, moved by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(app) -> Clock:
    c = Clock(T0)
    app.config["CLOCK"] = c
    return c


def _entries(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)))


def _failure_rows(app, username: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(LoginFailure.id)).where(LoginFailure.username == username))


def _signed_in(client) -> bool:
    return client.get("/").status_code == 200


def _post_login(client, username: str, password: str):
    return client.post("/login", data={"username": username, "password": password})


# ------------------------------------------------------------------------------ the throttle itself


def _fail(session, username: str, address: str, at: datetime, times: int = 1) -> None:
    for _ in range(times):
        throttle.record_attempt(session, username, address, at, SETTINGS)


def test_five_failures_are_free_then_the_delay_doubles_up_to_the_window(app):
    with app.app_context():
        s = db.session
        _fail(s, "staff", "10.0.0.1", T0, times=4)
        assert throttle.delay_for(s, "staff", "10.0.0.1", T0, SETTINGS) is None
        _fail(s, "staff", "10.0.0.1", T0)
        assert throttle.delay_for(s, "staff", "10.0.0.1", T0 + timedelta(seconds=1), SETTINGS) == \
            throttle.Wait(seconds=29, scope="account")
        assert throttle.delay_for(s, "staff", "10.0.0.1", T0 + timedelta(seconds=30), SETTINGS) is None
        # The 6th failure (once the first delay is over) doubles it, counted from that failure.
        _fail(s, "staff", "10.0.0.1", T0 + timedelta(seconds=30))
        assert throttle.delay_for(s, "staff", "10.0.0.1", T0 + timedelta(seconds=30), SETTINGS).seconds == 60
        _fail(s, "staff", "10.0.0.1", T0 + timedelta(seconds=90))
        assert throttle.delay_for(s, "staff", "10.0.0.1", T0 + timedelta(seconds=90), SETTINGS).seconds == 120
        # However many, never longer than the window.
        _fail(s, "staff", "10.0.0.1", T0 + timedelta(seconds=210), times=10)
        wait = throttle.delay_for(s, "staff", "10.0.0.1", T0 + timedelta(seconds=210), SETTINGS)
        assert wait.seconds == 15 * 60 and wait.message == "登录失败次数过多，请 15 分钟后再试"
        # Another account from another address is not concerned.
        assert throttle.delay_for(s, "head", "10.0.0.2", T0 + timedelta(seconds=210), SETTINGS) is None


def test_failures_older_than_the_window_no_longer_count_and_are_pruned(app):
    with app.app_context():
        s = db.session
        _fail(s, "staff", "10.0.0.1", T0, times=5)
        later = T0 + timedelta(minutes=15, seconds=1)
        assert throttle.delay_for(s, "staff", "10.0.0.1", later, SETTINGS) is None
        _fail(s, "head", "10.0.0.9", later)  # any write prunes what the window has left behind
        assert s.scalar(select(func.count(LoginFailure.id)).where(LoginFailure.username == "staff")) == 0


def test_one_address_has_its_own_higher_limit_across_accounts(app):
    with app.app_context():
        s = db.session
        for i in range(19):
            _fail(s, f"guess{i}", "10.0.0.1", T0)
        assert throttle.delay_for(s, "staff", "10.0.0.1", T0, SETTINGS) is None
        _fail(s, "guess19", "10.0.0.1", T0)
        assert throttle.delay_for(s, "staff", "10.0.0.1", T0, SETTINGS) == throttle.Wait(seconds=30, scope="address")
        assert throttle.delay_for(s, "staff", "10.0.0.2", T0, SETTINGS) is None


def test_only_earlier_attempts_count_against_an_attempt_and_success_clears_the_account(app):
    with app.app_context():
        s = db.session
        _fail(s, "staff", "10.0.0.1", T0, times=4)
        mine = throttle.record_attempt(s, "staff", "10.0.0.1", T0, SETTINGS)
        _fail(s, "staff", "10.0.0.1", T0, times=3)  # parallel attempts that came after mine
        assert throttle.delay_for(s, "staff", "10.0.0.1", T0, SETTINGS, before=mine) is None
        assert throttle.delay_for(s, "staff", "10.0.0.1", T0, SETTINGS) is not None
        _fail(s, "head", "10.0.0.1", T0)
        assert throttle.succeeded(s, "staff") == 8
        assert throttle.delay_for(s, "staff", "10.0.0.1", T0, SETTINGS) is None
        assert s.scalar(select(func.count(LoginFailure.id))) == 1  # head's failure stays


# ----------------------------------------------------------------------------- through the web


def test_the_sixth_attempt_waits_even_with_the_right_password(app, users, client, clock):
    for _ in range(5):
        assert _post_login(client, "staff", "wrong-password").status_code == 401
    resp = _post_login(client, "staff", "wrong-password")
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "30"
    assert "登录失败次数过多，请 30 秒后再试" in resp.get_data(as_text=True)
    # The measured failure: many guesses, then the right password. It is not even checked now.
    for _ in range(25):
        assert _post_login(client, "staff", "wrong-password").status_code == 429
    clock.advance(seconds=20)
    resp = _post_login(client, "staff", PASSWORD)
    assert resp.status_code == 429 and "请 10 秒后再试" in resp.get_data(as_text=True)
    assert not _signed_in(client)
    # Refused attempts were not counted (the delay did not grow) and were audited once, not 27 times.
    throttled = _entries(app, "login.throttled")
    assert len(throttled) == 1
    assert json.loads(throttled[0].details) == {"username": "staff", "scope": "account", "retry_after": 30}
    assert throttled[0].ip == "127.0.0.1"
    assert len(_entries(app, "login.failure")) == 5

    clock.advance(seconds=10)
    assert _post_login(client, "staff", PASSWORD).status_code == 302
    assert _signed_in(client)
    assert _failure_rows(app, "staff") == 0  # the count starts again; the audit log keeps the failures
    assert len(_entries(app, "login.failure")) == 5


def test_the_audit_of_refusals_is_thinned_to_one_a_minute(app, users, client, clock):
    for _ in range(5):
        _post_login(client, "staff", "wrong-password")
    assert _post_login(client, "staff", "x").status_code == 429
    clock.advance(seconds=29)
    assert _post_login(client, "staff", "x").status_code == 429
    assert len(_entries(app, "login.throttled")) == 1
    clock.advance(seconds=1)  # the first delay is over: one more failure, and the next delay is 60 s
    assert _post_login(client, "staff", "wrong-password").status_code == 401
    assert _post_login(client, "staff", "x").status_code == 429
    assert len(_entries(app, "login.throttled")) == 1
    clock.advance(seconds=31)
    assert _post_login(client, "staff", "x").status_code == 429
    assert len(_entries(app, "login.throttled")) == 2


def test_an_unknown_name_is_throttled_like_a_real_one(app, users, client, clock):
    for _ in range(5):
        assert _post_login(client, "nobody", "guess").status_code == 401
    assert _post_login(client, "nobody", "guess").status_code == 429


def test_one_address_guessing_many_accounts_is_held_back_but_others_get_in(app, users, clock):
    attacker = app.test_client()
    for i in range(20):
        assert _post_login(attacker, f"nobody{i}", "guess").status_code == 401
    resp = _post_login(attacker, "staff", PASSWORD)
    assert resp.status_code == 429 and "请 30 秒后再试" in resp.get_data(as_text=True)
    assert json.loads(_entries(app, "login.throttled")[0].details)["scope"] == "address"

    colleague = app.test_client()
    colleague.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    assert _post_login(colleague, "staff", PASSWORD).status_code == 302


# ------------------------------------------------------------------------------- second factor


def _wrong_code(secret: str, at: datetime) -> str:
    """A six-digit code that is not valid at ``at`` (nor a step either side)."""
    totp = pyotp.TOTP(secret)
    return next(c for c in ("000000", "111111", "222222") if not totp.verify(c, for_time=at, valid_window=1))


def _enrol(client, app, clock) -> str:
    page = client.get("/account/totp").get_data(as_text=True)
    assert "<svg" in page
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    wrong = _wrong_code(secret, clock.now)
    assert client.post("/account/totp", data={"action": "enable", "code": wrong}).status_code == 400
    code = pyotp.TOTP(secret).at(clock.now)
    resp = client.post("/account/totp", data={"action": "enable", "code": code})
    assert resp.status_code == 302
    return secret


def test_enrol_then_log_in_with_a_code_on_a_second_step(app, users, auth, client, clock):
    auth.login("staff")
    secret = _enrol(client, app, clock)
    with app.app_context():
        assert db.session.get(User, users["staff"]).totp_secret == secret
    assert [e.actor_id for e in _entries(app, "totp.enable")] == [users["staff"]]
    auth.logout()

    resp = auth.login("staff")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login/code")
    assert not _signed_in(client)  # the password alone signs nobody in
    clock.advance(seconds=70)  # past the step whose code enrolled (a code is accepted once)
    resp = client.post("/login/code", data={"code": _wrong_code(secret, clock.now)})
    assert resp.status_code == 401 and "验证码不正确" in resp.get_data(as_text=True)
    failure = _entries(app, "login.failure")[-1]
    assert json.loads(failure.details)["stage"] == "second_factor"
    # A phone a step behind is accepted.
    resp = client.post("/login/code", data={"code": pyotp.TOTP(secret).at(clock.now - timedelta(seconds=30))})
    assert resp.status_code == 302
    assert _signed_in(client)
    assert json.loads(_entries(app, "login.success")[-1].details) == {"second_factor": True}
    assert _failure_rows(app, "staff") == 0


def test_a_code_signs_in_once(app, users, auth, client, clock):
    with app.app_context():
        staff = db.session.get(User, users["staff"])
        staff.totp_secret = secret = pyotp.random_base32()
        db.session.commit()
    code = pyotp.TOTP(secret).at(clock.now)
    auth.login("staff")
    assert client.post("/login/code", data={"code": code}).status_code == 302 and _signed_in(client)
    auth.logout()
    # Seen over a shoulder: the same code, still inside its window, a moment later.
    clock.advance(seconds=5)
    other = app.test_client()
    _post_login(other, "staff", PASSWORD)
    resp = other.post("/login/code", data={"code": code})
    assert resp.status_code == 401 and not _signed_in(other)
    # The next step's code works.
    clock.advance(seconds=30)
    assert other.post("/login/code", data={"code": pyotp.TOTP(secret).at(clock.now)}).status_code == 302


def test_the_second_step_expires_and_wrong_codes_are_throttled(app, users, auth, client, clock):
    with app.app_context():
        staff = db.session.get(User, users["staff"])
        staff.totp_secret = secret = pyotp.random_base32()
        db.session.commit()
    auth.login("staff")
    clock.advance(minutes=5, seconds=1)
    resp = client.post("/login/code", data={"code": pyotp.TOTP(secret).at(clock.now)})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login")
    assert not _signed_in(client)

    auth.login("staff")  # the password's attempt counts until the code is right: 2 so far
    for _ in range(3):
        assert client.post("/login/code", data={"code": _wrong_code(secret, clock.now)}).status_code == 401
    resp = client.post("/login/code", data={"code": pyotp.TOTP(secret).at(clock.now)})
    assert resp.status_code == 429 and "登录失败次数过多" in resp.get_data(as_text=True)
    assert not _signed_in(client)


def test_turning_the_second_factor_off_needs_a_current_code(app, users, auth, client, clock):
    auth.login("staff")
    secret = _enrol(client, app, clock)
    resp = client.post("/account/totp", data={"action": "disable", "code": _wrong_code(secret, clock.now)})
    assert resp.status_code == 400
    with app.app_context():
        assert db.session.get(User, users["staff"]).totp_secret == secret
    assert client.post("/account/totp", data={"action": "disable",
                                              "code": pyotp.TOTP(secret).at(clock.now)}).status_code == 302
    with app.app_context():
        assert db.session.get(User, users["staff"]).totp_secret is None
    assert len(_entries(app, "totp.disable")) == 1


def test_a_role_that_must_use_a_second_factor_can_only_enrol(app, users, auth, client, clock):
    app.config["TOTP_REQUIRED_ROLES"] = frozenset({"admin"})
    with app.app_context():
        token = accounts.create_api_token(db.session, db.session.get(User, users["admin"]), "script")
        db.session.commit()
    resp = auth.login("admin")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/account/totp")
    for url in ("/", "/admin/users", "/audit"):
        resp = client.get(url)
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/account/totp"), url
    assert client.get("/api/v1/me").json["error"]["code"] == "totp_required"
    api = app.test_client()
    resp = api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403 and resp.json["error"]["code"] == "totp_required"

    other = app.test_client()  # roles not named are not concerned
    assert _post_login(other, "staff", PASSWORD).status_code == 302 and _signed_in(other)

    secret = _enrol(client, app, clock)
    assert client.get("/audit").status_code == 200
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    resp = client.post("/account/totp", data={"action": "disable", "code": pyotp.TOTP(secret).at(clock.now)})
    assert resp.status_code == 409
    with app.app_context():
        assert db.session.get(User, users["admin"]).totp_secret == secret


def test_an_administrator_can_reset_a_lost_second_factor(app, users, client, clock):
    with app.app_context():
        staff = db.session.get(User, users["staff"])
        staff.totp_secret = pyotp.random_base32()
        db.session.commit()
    assert _post_login(client, "staff", PASSWORD).headers["Location"].endswith("/login/code")
    with app.app_context():  # only the administrator may: the service asks the policy
        with pytest.raises(Forbidden):
            second_factor.reset(db.session, db.session.get(User, users["archivist"]),
                                db.session.get(User, users["staff"]), clock.now)
        db.session.rollback()
    admin = app.test_client()
    _post_login(admin, "admin", PASSWORD)
    page = admin.get(f"/admin/users/{users['staff']}").text
    assert "关闭两步验证" in page
    resp = admin.post(f"/admin/users/{users['staff']}/totp-reset")
    assert resp.status_code == 302
    assert [e.actor_id for e in _entries(app, "totp.reset")] == [users["admin"]]
    fresh = app.test_client()
    assert _post_login(fresh, "staff", PASSWORD).headers["Location"].endswith("/dashboard")
    assert _signed_in(fresh)


def test_the_mandatory_roles_setting_refuses_an_unknown_role(tmp_path):
    env = {"ARCHIVE_DATA_DIR": str(tmp_path), "ARCHIVE_SECRET_KEY": "k", "ARCHIVE_AUDIT_KEY": "a"}
    assert load_config(env)["TOTP_REQUIRED_ROLES"] == frozenset()
    assert load_config(env | {"ARCHIVE_TOTP_REQUIRED_ROLES": "admin, auditor"})["TOTP_REQUIRED_ROLES"] == \
        frozenset({"admin", "auditor"})
    with pytest.raises(ConfigError, match="admins"):
        load_config(env | {"ARCHIVE_TOTP_REQUIRED_ROLES": "admins"})


# ---------------------------------------------------------------------------- session timeouts


def _redirected_to_login(resp) -> bool:
    return resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_an_idle_session_ends_and_activity_keeps_it(app, users, auth, client, clock):
    auth.login("staff")
    clock.advance(minutes=29)
    assert client.get("/").status_code == 200
    clock.advance(minutes=29)
    assert client.get("/").status_code == 200  # 58 minutes after log-in, but never 30 idle
    clock.advance(minutes=30)
    resp = client.get("/customers/1")
    assert _redirected_to_login(resp) and "next=/customers/1" in unquote(resp.headers["Location"])
    assert "会话已超时，请重新登录" in client.get(resp.headers["Location"]).get_data(as_text=True)
    assert not _signed_in(client)


def test_last_seen_is_rewritten_at_most_once_a_minute(app, users, auth, client, clock):
    auth.login("staff")
    client.get("/")  # the first page stores the CSRF token in the session
    clock.advance(seconds=59)
    assert "Set-Cookie" not in client.get("/").headers
    clock.advance(seconds=1)
    assert "Set-Cookie" in client.get("/").headers


def test_a_session_ends_after_its_lifetime_however_active(app, users, auth, client, clock):
    auth.login("staff")
    with client.session_transaction() as s:
        s["login_at"] = stamp(clock.now - timedelta(hours=12) + timedelta(seconds=1))
    assert client.get("/").status_code == 200
    clock.advance(seconds=1)
    assert _redirected_to_login(client.get("/"))
    assert not _signed_in(client)


def test_a_session_without_its_times_has_ended(app, users, auth, client, clock):
    auth.login("staff")
    with client.session_transaction() as s:
        del s["seen_at"]
    assert _redirected_to_login(client.get("/"))


def test_the_api_says_the_session_expired_and_tokens_have_no_idle_limit(app, users, auth, client, clock):
    auth.login("staff")
    with app.app_context():
        token = accounts.create_api_token(db.session, db.session.get(User, users["staff"]), "script")
        db.session.commit()
    clock.advance(minutes=31)
    resp = client.get("/api/v1/me")
    assert resp.status_code == 401 and resp.json["error"] == {"code": "session_expired",
                                                              "message": "会话已超时，请重新登录"}
    clock.advance(days=3)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


@pytest.mark.parametrize("hops", [0, 1])
def test_behind_the_load_balancer_each_client_is_counted_by_its_own_address(request, tmp_path, users_factory,
                                                                              hops):
    """ARCHIVE_PROXY_HOPS=1 (docker-compose): the address the proxy forwards is the client's; without it
    every client would be the proxy, and one office's twenty wrong guesses would lock everyone out."""
    from .conftest import make_app

    app = make_app("sqlite-fs", tmp_path, request, {"PROXY_HOPS": hops})
    users_factory(app)
    attacker, colleague = app.test_client(), app.test_client()
    for agent, address in ((attacker, "203.0.113.7"), (colleague, "198.51.100.9")):
        agent.environ_base.update({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": address})
    for i in range(20):
        assert _post_login(attacker, f"nobody{i}", "guess").status_code == 401
    assert _post_login(colleague, "staff", PASSWORD).status_code == (302 if hops else 429)
    with app.app_context():
        addresses = set(db.session.scalars(select(LoginFailure.address)))
    assert addresses == ({"203.0.113.7"} if hops else {"10.0.0.2"})
