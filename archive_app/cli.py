"""The ``archive`` command: ``init`` sets up the embedded default; every other sub-command comes from
the application it builds (``archive_app/commands.py``), plus Flask's own (``db upgrade``)."""
from __future__ import annotations

import os

import click
from flask.cli import FlaskGroup
from sqlalchemy import select

from archive_app import create_app, policy
from archive_app.commands import upgrade_database
from archive_app.config import audit_key_path, ensure_audit_key, ensure_secret_key


@click.group(cls=FlaskGroup, create_app=lambda: create_app(), add_version_option=False)
def cli() -> None:
    """客户档案系统 — customer-records archive."""


@cli.command("init", with_appcontext=False)
@click.option("--admin-username", default="admin", show_default=True)
def init_command(admin_username: str) -> None:
    """Set up the embedded default under ARCHIVE_DATA_DIR: secret and audit keys, database, folders, first admin."""
    from archive_app.accounts import users as accounts
    from archive_app.accounts.models import User
    from archive_app.accounts.passwords import generate_password
    from archive_app.errors import DomainError
    from archive_app.extensions import db

    data_dir = os.path.abspath(os.environ.get("ARCHIVE_DATA_DIR") or "./var")
    os.makedirs(data_dir, exist_ok=True)
    if not os.environ.get("ARCHIVE_SECRET_KEY"):
        ensure_secret_key(data_dir)
    if not os.environ.get("ARCHIVE_AUDIT_KEY"):
        ensure_audit_key(audit_key_path())
    app = create_app()
    with app.app_context():
        upgrade_database()
        from archive_app.wiring import get_index

        get_index()  # create the search index now, not in a race between the server and the worker
        # Any administrator account, even a deactivated one, means the site has been set up.
        if db.session.scalar(select(User).where(policy.users_who_may("user.manage", active=False))) is None:
            password = app.config.get("ADMIN_PASSWORD") or generate_password()
            try:
                accounts.create_user(db.session, username=admin_username, password=password, role="admin",
                                     display_name="系统管理员")
            except DomainError as exc:  # e.g. an ARCHIVE_ADMIN_PASSWORD the password rules refuse
                raise click.ClickException(f"{exc.code}: {exc.message}") from None
            db.session.commit()
            if app.config.get("ADMIN_PASSWORD"):
                click.echo(f"Created admin user '{admin_username}' with the password from ARCHIVE_ADMIN_PASSWORD.")
            else:
                click.echo(f"Created admin user '{admin_username}'. Password (shown once): {password}")
        click.echo(f"Data dir ready: {data_dir}")
