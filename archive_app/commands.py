"""The ``archive`` sub-commands that run inside an application: serve, worker, create-user, create-token,
the account commands (deactivate-user, reactivate-user, set-user, reset-password, reset-totp, revoke-token),
verify-audit, sweep-orphans, reindex, retention-sync, fixity-check, four-checks, intake-folder (``create_app`` puts them on ``app.cli``)."""
from __future__ import annotations

import os
import sys
from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from archive_app.i18n import _, _l
from archive_app.vocabulary import ROLE_LABELS as ROLE_CHOICES


def upgrade_database() -> None:
    """Apply every Alembic migration (from empty or from any earlier revision)."""
    from flask_migrate import upgrade

    upgrade(directory=current_app.extensions["migrate"].directory)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="worker processes")
@click.option("--threads", default=8, show_default=True, type=int, help="threads per worker")
@click.option("--worker/--no-worker", "with_worker", default=True, show_default=True,
              help="also start `archive worker` (background jobs) beside the web server")
@with_appcontext
def serve_command(host: str, port: int, workers: int, threads: int, with_worker: bool) -> None:
    """Serve the application with gunicorn (a production WSGI server, threaded workers)."""
    import subprocess

    from archive_app.server import serve

    worker = None
    if with_worker:
        # Same executable, same environment: the worker builds the same app from ARCHIVE_*.
        worker = subprocess.Popen([sys.argv[0], "worker"])
        click.echo(f"Background worker started (pid {worker.pid})")
    click.echo(f"Serving on http://{host}:{port}")
    try:
        serve(current_app._get_current_object(), host=host, port=port, workers=workers, threads=threads)
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()


@click.command("worker")
@click.option("--workers", type=int, default=None, help="worker processes (default ARCHIVE_WORKERS)")
@click.option("--drain", is_flag=True, help="run what is queued now in this process, then exit")
@click.option("--schedule/--no-schedule", default=True, show_default=True,
              help="also queue the periodic jobs (nightly backup, fixity, retention sync...); exactly one "
                   "`archive worker` on a queue should, every further one runs --no-schedule")
@with_appcontext
def worker_command(workers: int | None, drain: bool, schedule: bool) -> None:
    """Run background jobs (text extraction, indexing) from the queue, and hand on those of lost workers."""
    from archive_app.extensions import db
    from archive_app.jobs import make_consumer, run_pending

    if drain:
        click.echo(f"{run_pending()} job(s) run")
        return
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(processName)s %(name)s %(levelname)s %(message)s")
    app = current_app._get_current_object()
    # OCR takes every core it is given; on a machine shared with the web server, pages and searches
    # must not wait behind it (bench/load.py). The job processes fork from here and inherit this.
    os.nice(app.config["WORKER_NICE"])
    db.engine.dispose()  # forked worker processes open their own connections
    make_consumer(app, workers or app.config["WORKERS"], schedule=schedule).run()


@click.command("create-user")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(list(ROLE_CHOICES)))
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--display-name", default="")
@click.option("--department", default=None)
@click.option("--clearance", type=click.IntRange(0, 3), default=None, help=_l("0 公开 1 内部 2 秘密 3 机密"))
@with_appcontext
def create_user_command(username: str, role: str, password: str, display_name: str, department: str | None,
                        clearance: int | None) -> None:
    """Create a user."""
    from archive_app.accounts import users as accounts
    from archive_app.errors import DomainError
    from archive_app.extensions import db

    try:
        user = accounts.create_user(db.session, username=username, password=password, role=role,
                                    display_name=display_name, department=department, clearance=clearance)
        db.session.commit()
    except DomainError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
    click.echo(f"Created user {user.username} (id {user.id}, role {user.role}).")


@click.command("create-token")
@click.argument("username")
@click.option("--name", default="cli")
@with_appcontext
def create_token_command(username: str, name: str) -> None:
    """Create a personal API token for a user and print it once."""
    from archive_app.accounts import users as accounts
    from archive_app.accounts.models import User
    from archive_app.extensions import db

    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"no such user: {username}")
    token = accounts.create_api_token(db.session, user, name)
    db.session.commit()
    click.echo(token)


def _account_action(run):
    """Run one account change from the command line: commit it, or exit with its code and message."""
    from archive_app.errors import DomainError
    from archive_app.extensions import db

    try:
        result = run(db.session)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
    return result


def _acting_admin(session, username: str | None):
    """Who the command acts as (the audit log names them, the policy asks about them): ``--by``, else the
    oldest active account that may manage users. Whoever runs `archive` holds the database anyway."""
    from archive_app import policy
    from archive_app.accounts import administration as admin_svc
    from archive_app.accounts.models import User

    if username:
        return admin_svc.find_user(session, username)
    found = session.scalar(select(User).where(policy.users_who_may("user.manage")).order_by(User.id).limit(1))
    if found is None:
        raise click.ClickException("no active administrator to act as: create one with `archive create-user`")
    return found


_BY = click.option("--by", "by", default=None, help="administrator acting (default: the oldest active one)")


@click.command("deactivate-user")
@click.argument("username")
@click.option("--successor", required=True, help="colleague who takes over customers and paper originals")
@click.option("--note", default="", help="handover note")
@_BY
@with_appcontext
def deactivate_user_command(username: str, successor: str, note: str, by: str | None) -> None:
    """Deactivate a user: hand over to a colleague, end their sessions, revoke their tokens."""
    from archive_app.accounts import administration as admin_svc
    from archive_app.wiring import now

    def run(session):
        return admin_svc.deactivate(session, _acting_admin(session, by), admin_svc.find_user(session, username),
                                    admin_svc.find_user(session, successor), now=now(), note=note)

    handover = _account_action(run)
    click.echo(f"Deactivated {username}; handed over to {successor}: {handover.customers_count} customer(s), "
               f"{handover.paper_loans_count} paper original(s), {handover.requests_revoked_count} request(s) revoked.")


@click.command("reactivate-user")
@click.argument("username")
@click.option("--reason", default="")
@_BY
@with_appcontext
def reactivate_user_command(username: str, reason: str, by: str | None) -> None:
    """Let a deactivated user sign in again."""
    from archive_app.accounts import administration as admin_svc
    from archive_app.wiring import now

    _account_action(lambda session: admin_svc.reactivate(session, _acting_admin(session, by),
                                                         admin_svc.find_user(session, username), now=now(),
                                                         reason=reason))
    click.echo(f"Reactivated {username}.")


@click.command("set-user")
@click.argument("username")
@click.option("--role", type=click.Choice(list(ROLE_CHOICES)), default=None)
@click.option("--department", default=None, help="department name ('' for none)")
@click.option("--clearance", type=click.IntRange(0, 3), default=None, help=_l("0 公开 1 内部 2 秘密 3 机密"))
@click.option("--reason", required=True, help="why (kept in the audit log)")
@_BY
@with_appcontext
def set_user_command(username: str, role: str | None, department: str | None, clearance: int | None, reason: str,
                     by: str | None) -> None:
    """Change a user's role, department and/or clearance; ends their sessions and revokes their tokens."""
    from archive_app.accounts import administration as admin_svc
    from archive_app.wiring import now

    given = {k: v for k, v in (("role", role), ("department", department), ("clearance", clearance)) if v is not None}
    changes = _account_action(lambda session: admin_svc.change_user(
        session, _acting_admin(session, by), admin_svc.find_user(session, username), reason=reason, now=now(),
        **given))
    click.echo(f"Changed {username}: " + ", ".join(f"{k}={v}" for k, v in changes.items()))


@click.command("reset-password")
@click.argument("username")
@_BY
@with_appcontext
def reset_password_command(username: str, by: str | None) -> None:
    """Give a user a generated temporary password (printed once) to change at their next sign-in."""
    from archive_app.accounts import administration as admin_svc
    from archive_app.wiring import now

    temporary = _account_action(lambda session: admin_svc.reset_password(
        session, _acting_admin(session, by), admin_svc.find_user(session, username), now=now()))
    click.echo(f"Temporary password for {username} (shown once; must be changed at next sign-in): {temporary}")


@click.command("reset-totp")
@click.argument("username")
@_BY
@with_appcontext
def reset_totp_command(username: str, by: str | None) -> None:
    """Turn off a user's second factor (a lost phone); they enrol again if their role requires it."""
    from archive_app.accounts import administration as admin_svc
    from archive_app.accounts import second_factor
    from archive_app.wiring import now

    _account_action(lambda session: second_factor.reset(session, _acting_admin(session, by),
                                                        admin_svc.find_user(session, username), now()))
    click.echo(f"Second factor of {username} turned off; their sessions ended.")


@click.command("revoke-token")
@click.argument("token_id", type=int, required=False)
@click.option("--user", "owner", default=None, help="revoke every token of this user instead")
@_BY
@with_appcontext
def revoke_token_command(token_id: int | None, owner: str | None, by: str | None) -> None:
    """Revoke one API token by its id, or every token of --user."""
    from archive_app.accounts import administration as admin_svc
    from archive_app.wiring import now

    if (token_id is None) == (owner is None):
        raise click.UsageError("give either a token id or --user, not both")
    if token_id is not None:
        _account_action(lambda session: admin_svc.revoke_token(session, _acting_admin(session, by), token_id,
                                                               now=now()))
        click.echo(f"Revoked token {token_id}.")
        return
    count = _account_action(lambda session: admin_svc.revoke_all_tokens(
        session, _acting_admin(session, by), admin_svc.find_user(session, owner), now=now()))
    click.echo(f"Revoked {count} token(s) of {owner}.")


@click.command("verify-audit")
@with_appcontext
def verify_audit_command() -> None:
    """Check the audit log's MAC chain against its newest anchor; exit 1 listing every problem found.

    When the log is intact, its head is anchored again, so later deletions are measured from now.
    """
    from zoneinfo import ZoneInfo

    from archive_app.audit.anchors import anchor_head
    from archive_app.audit.verification import verify_log
    from archive_app.extensions import db
    from archive_app.wiring import get_store, now, timezone_name

    store = get_store()
    report = verify_log(db.session, store)
    db.session.rollback()
    walk, tz = report.walk, ZoneInfo(timezone_name())
    line = f"{walk.entries} entries checked"
    if walk.legacy:
        line += f" ({walk.legacy} written before the audit key, checked with the old unkeyed SHA-256 rule)"
    click.echo(line)
    if report.anchor is not None:
        click.echo(f"newest anchor: {report.anchor.seq} entries, written "
                   f"{report.anchor.at.astimezone(tz).isoformat(timespec='seconds')}")
    else:
        click.echo("no anchor yet: deleting the newest entries cannot be detected before the first one")
    if not store.lock_supported():
        click.echo("warning: the store cannot lock objects (S3 bucket without Object Lock): anchors can be "
                   "deleted", err=True)
    for e in walk.erasures:
        click.echo(f"{e.count} entries' personal data erased on {e.at.astimezone(tz).date().isoformat()} under "
                   f"destruction {e.batch_no or '?'} (customer {e.customer_no or '?'}, entry {e.seq})")
    if not report.intact:
        for p in report.problems:
            click.echo(f"entry {p.seq}: {p.problem}", err=True)
        for problem in report.anchor_problems:
            click.echo(problem, err=True)
        if report.wrong_key:
            click.echo("every keyed entry fails: is ARCHIVE_AUDIT_KEY (or the audit key file) the key that "
                       "wrote this log?", err=True)
        click.echo(f"AUDIT LOG DAMAGED: {len(report.problems) + len(report.anchor_problems)} problem(s)", err=True)
        sys.exit(1)
    anchor = anchor_head(db.session, store, now())
    db.session.rollback()
    click.echo("audit log intact" + (f"; anchored at {anchor.seq} entries" if anchor else ""))


@click.command("sweep-orphans")
@click.option("--grace-hours", default=None, type=int,
              help="spare what is younger than this  [default: ARCHIVE_ORPHAN_GRACE_HOURS, 24]")
@with_appcontext
def sweep_orphans_command(grace_hours: int | None) -> None:
    """Remove stored blobs no record points to, and abort unfinished uploads, older than the grace period."""
    from archive_app.extensions import db
    from archive_app.intake.records import abort_abandoned_uploads, sweep_orphans
    from archive_app.wiring import get_store, now, setting

    hours = setting("ORPHAN_GRACE_HOURS") if grace_hours is None else grace_hours
    cutoff = now() - timedelta(hours=hours)
    removed = sweep_orphans(db.session, get_store(), cutoff)
    for key in removed:
        click.echo(f"removed {key}")
    aborted = abort_abandoned_uploads(get_store(), cutoff)
    for upload in aborted:
        click.echo(f"aborted unfinished upload {upload.key or upload.upload_id} "
                   f"(started {upload.started.isoformat(timespec='seconds')})")
    click.echo(f"{len(removed)} orphan blob(s) removed; {len(aborted)} unfinished upload(s) aborted")


@click.command("reindex")
@click.option("--batch", default=1000, show_default=True, type=int, help="records per batch (bounds memory)")
@click.option("--resume", is_flag=True, help="continue an interrupted rebuild from its checkpoint")
@click.option("--procs", default=min(2, os.cpu_count() or 1), show_default=True, type=int,
              help="indexing processes besides the one reading the database (1: index in this one)")
@with_appcontext
def reindex_command(batch: int, resume: bool, procs: int) -> None:
    """Rebuild the search index from the database (the index is derived data)."""
    from archive_app.extensions import db
    from archive_app.finding.search import rebuild_index
    from archive_app.wiring import get_index

    def progress(done: int, total: int) -> None:
        click.echo(f"\r{done}/{total} records indexed", nl=False)

    count = rebuild_index(db.session, get_index(), batch=batch, resume=resume, progress=progress, procs=procs)
    click.echo(f"\nindex rebuilt: {count} records")


@click.command("retention-sync")
@with_appcontext
def retention_sync_command() -> None:
    """Recompute every record's disposal date and re-apply the storage locks (also run nightly)."""
    from archive_app.jobs import sync_retention

    done = sync_retention()
    moved, report = done.moved, done.locks
    click.echo(f"{moved} disposal date(s) moved; {report.locked} object(s) locked")
    for key, error in report.failed:
        click.echo(f"could not lock {key}: {error}", err=True)
    if report.failed:
        sys.exit(1)


@click.command("four-checks")
@click.option("--all", "everything", is_flag=True, help="every record that is not destroyed, not only the unchecked")
@with_appcontext
def four_checks_command(everything: bool) -> None:
    """Run 四性检测 on the records that have none yet (filed before it existed), or with --all on every
    record, reading each stored file once. Lists the records with a failed check; exit 0 unless the
    store does not answer."""
    from archive_app.errors import StorageFailed
    from archive_app.extensions import db
    from archive_app.intake.admission_checks import KINDS, backfill
    from archive_app.wiring import get_store, now, setting

    try:
        done = backfill(db.session, get_store(), now=now(), everything=everything, tmp_dir=setting("UPLOAD_TMP_DIR"))
    except StorageFailed as exc:
        raise click.ClickException(exc.message) from None
    failed = 0
    for record, findings in done:
        for f in findings:
            if f.result == "failed":
                failed += 1
                click.echo(f"FAILED {record.archival_code} {KINDS[f.kind]}: {f.detail}")
    click.echo(f"{len(done)} record(s) checked, {failed} failed check(s)")


@click.command("fixity-check")
@click.option("--all", "check_all", is_flag=True, help="check every stored original")
@click.option("--sample", "pct", type=click.FloatRange(0, 100, min_open=True), default=None,
              help="check this percentage of the originals, least recently checked first")
@click.option("--rate", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="read at most this many MB/s (0: unlimited)")
@with_appcontext
def fixity_check_command(check_all: bool, pct: float | None, rate: float) -> None:
    """Re-hash stored originals against their SHA-256, open them, and list objects without a row.

    Without --all or --sample, checks the nightly share (ARCHIVE_FIXITY_CYCLE_DAYS). Exit 1 naming
    every record whose file failed and every object no file row points to.
    """
    from archive_app.extensions import db
    from archive_app.fixity.checks import run_check
    from archive_app.wiring import get_store, now, setting
    from storage import StorageError

    if check_all and pct is not None:
        raise click.UsageError("give --all or --sample, not both")
    scope = "all" if check_all else "sample" if pct is not None else "cycle"
    try:
        report = run_check(db.session, get_store(), now=now(), scope=scope, pct=pct, rate_mb=rate,
                           cycle_days=int(setting("FIXITY_CYCLE_DAYS")), tmp_dir=setting("UPLOAD_TMP_DIR"), clock=now)
    except StorageError as exc:
        raise click.ClickException(f"storage unavailable, fixity check stopped: {exc}") from None
    click.echo(f"{report.files} file(s), {report.bytes / 1e6:.1f} MB checked in {report.seconds:.1f} s "
               f"({report.mb_per_s:.1f} MB/s, {report.files_per_s:.1f} files/s)")
    for c in report.failures:
        click.echo(f"FAILED {c.archival_code} file {c.file_id} ({c.name}): {c.status} - {c.detail}", err=True)
    for c in report.orphans:
        click.echo(f"ORPHAN {c.object_key}: no file row points to this object", err=True)
    if not report.clean:
        click.echo(f"FIXITY CHECK FAILED: {len(report.failures)} file(s), {len(report.orphans)} orphan object(s)",
                   err=True)
        sys.exit(1)
    click.echo("all checked files intact")


def _backup_destination(dest: str):
    """The folder or ``s3://bucket/prefix`` named on the command line, with the backup settings."""
    from archive_app.errors import DomainError
    from archive_app.wiring import backup_destination

    try:
        return backup_destination(dest)
    except DomainError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None


@click.command("backup")
@click.argument("dest")
@click.option("--keep", type=click.IntRange(1), default=None,
              help="then keep only the newest N backups in DEST (default: keep all)")
@with_appcontext
def backup_command(dest: str, keep: int | None) -> None:
    """Back up the database, every stored object it points to and the audit anchors into DEST: a folder, or
    s3://bucket/prefix (server and keys: ARCHIVE_BACKUP_S3_*, else the archive's ARCHIVE_S3_*)."""
    from archive_app.backup import backups
    from archive_app.extensions import db
    from archive_app.wiring import get_store, now, setting

    key = setting("AUDIT_KEY") if setting("BACKUP_INCLUDE_AUDIT_KEY") else None
    run = backups.run_backup(db.session, get_store(), _backup_destination(dest), now=now(), keep=keep, audit_key=key)
    db.session.commit()
    if run.result is None:
        raise click.ClickException(f"backup failed: {run.error}")
    result = run.result
    click.echo(f"backup {result.name} written to {result.path}: {result.objects} object(s), "
               f"{result.copied} new ({result.copied_bytes} bytes), {result.reused} already in earlier backups")
    for name in run.pruned:
        click.echo(f"removed old backup {name}")
    for key_name in result.missing:
        click.echo(f"warning: {key_name} is named by the database but no longer stored (destroyed meanwhile?)",
                   err=True)
    if key is None:
        click.echo("The audit key is NOT in this backup: keep ARCHIVE_AUDIT_KEY (or the audit key file) safe; "
                   "restore needs it to verify the audit log.")


@click.command("backup-verify")
@click.argument("dest")
@click.option("--name", default=None, help="one backup (folder name); default: every backup in DEST")
@with_appcontext
def backup_verify_command(dest: str, name: str | None) -> None:
    """Re-hash backups in DEST (a folder or s3://bucket/prefix) against their manifests; exit 1 listing every
    mismatch."""
    from archive_app.backup import backups
    from archive_app.errors import DomainError

    target = _backup_destination(dest)
    try:
        result = backups.verify_backup(target, name)
    except DomainError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
    click.echo(f"{len(result.backups)} backup(s), {result.files} file(s) hashed")
    for problem in result.problems:
        click.echo(problem, err=True)
    if result.problems:
        click.echo(f"BACKUP DAMAGED: {len(result.problems)} problem(s)", err=True)
        sys.exit(1)
    click.echo("backup intact")


@click.command("restore")
@click.argument("src")
@click.option("--name", default=None, help="which backup (folder name); default: the newest")
@with_appcontext
def restore_command(src: str, name: str | None) -> None:
    """Fill the empty database and store from a backup, check it, destroy again what was destroyed, verify
    the audit log and queue the index rebuild."""
    from archive_app.backup import backups
    from archive_app.errors import DomainError
    from archive_app.extensions import db
    from archive_app.wiring import enqueue, get_store, now

    try:
        result = backups.restore_backup(db.session, get_store(), _backup_destination(src), now=now(), name=name)
    except DomainError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
    from archive_app.jobs import sync_retention

    locks = sync_retention().locks  # restored objects carry no storage locks: put them back
    db.session.commit()
    for key_name, error in locks.failed:
        click.echo(f"could not lock {key_name}: {error}", err=True)
    queued = enqueue("reindex_all")
    click.echo(f"restored {result.name}: {sum(result.rows.values())} row(s), {result.objects} object(s), "
               f"counts and hashes match")
    for code in result.redestroyed:
        click.echo(_("destroyed again (in the 销毁清册): %(code)s", code=code))
    for code in result.not_in_backup:
        click.echo(_("in the 销毁清册 but not in this backup: %(code)s", code=code))
    click.echo(f"audit log intact: {result.audit_entries} entries")
    click.echo("search index rebuild queued (run `archive worker`)" if queued else
               "could not queue the index rebuild: run `archive reindex`")


@click.command("intake-folder")
@click.option("--once", is_flag=True, required=True, help="one pass over the folder, then exit")
@click.option("--settle", type=click.FloatRange(min=0), default=2.0, show_default=True,
              help="seconds between the two looks that tell a finished file from one still being written")
@with_appcontext
def intake_folder_command(once: bool, settle: float) -> None:
    """File what is in ARCHIVE_INTAKE_FOLDER by the naming rule 客户号_类型_日期.ext (what the worker does
    every minute): filed files go to done/, the others to rejected/ with a <name>.reason.txt."""
    import time

    from archive_app.errors import DomainError
    from archive_app.extensions import db
    from archive_app.intake import intake_folder
    from archive_app.wiring import archive_settings, get_store, now, setting

    path = setting("INTAKE_FOLDER")
    if not path:
        raise click.ClickException("ARCHIVE_INTAKE_FOLDER is not set")
    folder = intake_folder.FolderSettings(path, setting("INTAKE_FOLDER_USER"))
    try:
        run = intake_folder.run(db.session, get_store(), archive_settings(), folder, now=now,
                                settle=lambda: time.sleep(settle))
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
    if run.busy:
        raise click.ClickException("another run is processing the folder; try again in a moment")
    for o in run.outcomes:
        if o.status == "filed":
            click.echo(f"filed {o.name} -> {o.archival_code}")
        elif o.status == "rejected":
            click.echo(f"rejected {o.name}: {o.code} {o.message}")
        else:
            click.echo(f"left {o.name} for the next run: {o.code} {o.message}")
    for name in run.waiting:
        click.echo(f"still being written: {name}")
    click.echo(f"{len(run.of('filed'))} filed, {len(run.of('rejected'))} rejected, "
               f"{len(run.of('held')) + len(run.waiting)} left in the folder")


APP_COMMANDS = (backup_command, backup_verify_command, restore_command, retention_sync_command, serve_command, worker_command, reindex_command, create_user_command,
                create_token_command, deactivate_user_command, reactivate_user_command, set_user_command,
                reset_password_command, reset_totp_command, revoke_token_command, verify_audit_command, sweep_orphans_command,
                fixity_check_command, four_checks_command, intake_folder_command)


def register_commands(app) -> None:
    """Put the app-bound commands on ``app.cli`` (so ``archive`` and the test runner both see them)."""
    for command in APP_COMMANDS:
        app.cli.add_command(command)


@click.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="check every row and list the problems; write nothing")
@click.option("--skip-errors", is_flag=True, help="import the good rows and leave the rows with errors aside")
@click.option("--by", "by", default=None, help="archivist or administrator acting (default: the oldest active one)")
@with_appcontext
def import_command(path: str, dry_run: bool, skip_errors: bool, by: str | None) -> None:
    """Bring in a register (客户登记表, 温馨卡登记表, 成交客户信息登记表) from XLSX or CSV; Chinese headers are
    recognised. Prints `N rows ready, M rows with errors, D duplicates`; a dry run exits 1 when M > 0."""
    from archive_app import policy
    from archive_app.accounts import administration as admin_svc
    from archive_app.accounts.models import User
    from archive_app.errors import DomainError
    from archive_app.extensions import db
    from archive_app.registers import importing
    from archive_app.wiring import follow_up_settings, now

    session = db.session
    if by:
        actor = admin_svc.find_user(session, by)
    else:
        actor = session.scalar(select(User).where(policy.users_who_may("register.import")).order_by(User.id).limit(1))
    if actor is None or not policy.can(actor, "register.import"):
        raise click.ClickException("no active archivist or administrator to act as (--by)")
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        check = importing.check_register(session, os.path.basename(path), data)
        for line in check.problem_lines():
            click.echo(_("第 %(row)s 行 %(field)s: %(message)s [%(code)s]", row=line['row'], field=line['field'], message=line['message'], code=line['code']))
        if dry_run:
            session.rollback()
            click.echo(check.summary())
            sys.exit(1 if check.with_errors else 0)
        report = importing.run_import(session, actor, check, skip_errors=skip_errors, now=now(),
                                      settings=follow_up_settings())
        session.commit()
    except DomainError as exc:
        session.rollback()
        click.echo(check.summary() if "check" in locals() else "", err=True)
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
    click.echo(check.summary())
    click.echo(f"imported: {report.customers_created} customer(s), {report.cards_created} visitor card(s); "
               f"report #{report.id}")


APP_COMMANDS = APP_COMMANDS + (import_command,)
