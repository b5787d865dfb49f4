"""Report pages (报表) with their charts and XLSX exports, and the landing page (工作台)."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from archive_app.accounts.models import User
from archive_app.extensions import db
from archive_app.http import attachment, client_ip, date_arg, page
from archive_app.i18n import _
from archive_app.reports import catalogue, charts, dashboard, exporting
from archive_app.reports.periods import Period, period_for
from archive_app.wiring import local_today, now, timezone_name

bp = Blueprint("reports", __name__)


def _period() -> Period:
    """The weeks asked for with ?from= and ?to= (ISO dates), by default the last twelve."""
    return period_for(local_today(), date_arg(request.args.get("from"), _("开始日期")),
                      date_arg(request.args.get("to"), _("结束日期")))


@page(bp, "/dashboard", "dashboard.view")
def home(user: User):
    board = dashboard.dashboard_for(db.session, user, today=local_today(), tz=timezone_name())
    return render_template("reports/dashboard.html", board=board, svgs=[charts.draw(c) for c in board.charts])


@page(bp, "/reports", "report.view")
def index(user: User):
    return render_template("reports/index.html", kinds=catalogue.kinds_for(user))


@page(bp, "/reports/<slug>", "report.view")
def show(user: User, slug: str):
    report = catalogue.build_report(db.session, user, slug, _period(), today=local_today(), tz=timezone_name())
    return render_template("reports/show.html", report=report, svgs=[charts.draw(c) for c in report.charts],
                           kinds=catalogue.kinds_for(user), args=request.args)


@page(bp, "/reports/<slug>.xlsx", "report.view")
def export(user: User, slug: str):
    report = catalogue.build_report(db.session, user, slug, _period(), today=local_today(), tz=timezone_name())
    got = exporting.export_report(db.session, user, report, request.args.get("table") or None, now=now(),
                                  tz=timezone_name(), ip=client_ip())
    return attachment(got.content, got.mimetype, got.filename, got.ascii_filename)
