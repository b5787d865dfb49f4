"""Users (admin) and personal API tokens (everyone)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from archive_app.accounts import users as accounts
from archive_app.accounts.models import ApiToken, Department, User
from archive_app.errors import DomainError
from archive_app.extensions import db
from archive_app.http import page

bp = Blueprint("admin", __name__)


@page(bp, "/admin/users", "user.manage", methods=["GET", "POST"])
def users(user: User):
    if request.method == "POST":
        try:
            created = accounts.create_user(
                db.session, username=request.form.get("username", ""), password=request.form.get("password", ""),
                role=request.form.get("role", ""), display_name=request.form.get("display_name", ""),
                department=request.form.get("department") or None,
                clearance=int(request.form["clearance"]) if request.form.get("clearance", "").isdigit() else None,
                actor=user)
            flash(f"已创建用户：{created.username}", "success")
            return redirect(url_for("admin.users"))
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
    rows = db.session.scalars(select(User).order_by(User.id)).all()
    departments = db.session.scalars(select(Department).order_by(Department.name)).all()
    return render_template("admin/users.html", users=rows, departments=departments)


@page(bp, "/tokens", "token.manage", methods=["GET", "POST"])
def tokens(user: User):
    new_token = None
    if request.method == "POST":
        new_token = accounts.create_api_token(db.session, user, request.form.get("name", "").strip()[:100])
    rows = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)).all()
    return render_template("admin/tokens.html", tokens=rows, new_token=new_token)
