"""The review queue page (待审核): paged and sorted, many approved at once, one sent back with a reason."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from archive_app.accounts.models import User
from archive_app.extensions import db
from archive_app.http import attempt, client_ip, optional_int, page, page_arg
from archive_app.i18n import _
from archive_app.intake import records as svc
from archive_app.intake import review
from archive_app.wiring import now

bp = Blueprint("review", __name__)


def _back() -> str:
    """Back to the queue page the form was sent from (its page, order and size kept)."""
    keep = {k: request.form[k] for k in ("page", "sort", "per_page") if request.form.get(k)}
    return url_for("review.queue", **keep)


@page(bp, "/review", "review.queue")
def queue(user: User):
    got = review.queue_page(db.session, user, page=page_arg(), sort=request.args.get("sort", "oldest"),
                            per_page=optional_int(request.args.get("per_page")) or review.PER_PAGE)
    return render_template("records/queue.html", q=got, sorts=review.SORTS, sizes=review.PER_PAGE_CHOICES)


@page(bp, "/review/approve", "review.queue", methods=["POST"])
def approve_many(user: User):
    ids = [int(i) for i in request.form.getlist("record_ids") if i.isdigit()]
    outcomes, error = attempt(lambda: review.approve_many(db.session, user, ids, now=now(),
                                                          comment=request.form.get("comment", ""), ip=client_ip()))
    if error is not None:
        return redirect(_back())
    # Every draft's fate on one page (a flash per refusal would overflow the session cookie).
    return render_template("records/review_results.html", outcomes=outcomes, back=_back(),
                           approved=sum(1 for o in outcomes if o.approved))


@page(bp, "/records/<int:record_id>/review", "review.queue", methods=["POST"])
def approve(user: User, record_id: int):
    record = svc.review_record(db.session, user, record_id, ip=client_ip(), now=now(),
                               comment=request.form.get("comment", ""))
    flash(_("已审核归档：%(archival_code)s", archival_code=record.archival_code), "success")
    return redirect(_back() if request.form.get("back") == "queue"
                    else url_for("records.show", record_id=record_id))


@page(bp, "/records/<int:record_id>/send-back", "review.queue", methods=["POST"])
def send_back(user: User, record_id: int):
    record, error = attempt(lambda: svc.send_back(db.session, user, record_id, request.form.get("reason", ""),
                                                  ip=client_ip(), now=now()))
    if error is None:
        flash(_("已退回上传人修改：%(archival_code)s", archival_code=record.archival_code), "success")
    return redirect(_back() if request.form.get("back") == "queue"
                    else url_for("records.show", record_id=record_id))
