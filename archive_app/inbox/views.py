"""The inbox page (消息): what needs the signed-in user now (``inbox.notices``)."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from archive_app.extensions import db
from archive_app.http import actor
from archive_app.inbox import notices
from archive_app.wiring import loan_settings, now

bp = Blueprint("inbox", __name__)


def inbox_for_current_user() -> list[notices.Notice]:
    """The current user's notices (also used for the count in the navigation bar)."""
    return notices.inbox(db.session, actor(current_user), loan_settings(), now())


@bp.app_template_global("inbox_urgent_count")
def inbox_urgent_count() -> int:
    """How many urgent notices wait (the badge in the navigation bar); 0 when signed out."""
    if not current_user.is_authenticated:
        return 0
    return sum(1 for n in inbox_for_current_user() if n.level == "urgent")


@bp.route("/inbox")
@login_required
def index():
    return render_template("inbox/index.html", notices=inbox_for_current_user())
