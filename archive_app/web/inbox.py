"""The inbox page (消息): what needs the signed-in user now (``services.notices``)."""
from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from ..extensions import db
from ..services import notices
from .helpers import actor
from .loans import loan_settings

bp = Blueprint("inbox", __name__)


def inbox_for_current_user() -> list[notices.Notice]:
    """The current user's notices (also used for the count in the navigation bar)."""
    return notices.inbox(db.session, actor(current_user), loan_settings(), datetime.now(UTC))


@bp.route("/inbox")
@login_required
def index():
    return render_template("inbox/index.html", notices=inbox_for_current_user())
