"""The language choosers: the account page's (kept on the account) and the log-in page's (a cookie)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import refresh

from archive_app.accounts.language import choose_language
from archive_app.accounts.models import User
from archive_app.extensions import db
from archive_app.http import attempt, page
from archive_app.i18n import LANGUAGES, _, remember_language
from archive_app.wiring import now

bp = Blueprint("language", __name__)


@page(bp, "/account/language", "account.language", methods=["POST"])
def choose(user: User):
    code = request.form.get("language", "")
    changed, error = attempt(lambda: choose_language(db.session, user, code, now=now()))
    response = redirect(url_for("account.index"))
    if error is None:
        refresh()  # this request's language was read before the change
        # the message is shown on the next page, which is already in the new language
        flash(_("界面语言已更改") if changed else _("界面语言未改变"), "success")
        remember_language(response, code)
    return response


@bp.route("/login/language", methods=["POST"])
def before_login():
    """The log-in page's chooser: nobody is signed in yet, so the choice lives in a cookie only."""
    code = request.form.get("language", "")
    response = redirect(url_for("auth.login"))
    if code in LANGUAGES:
        remember_language(response, code)
    return response
