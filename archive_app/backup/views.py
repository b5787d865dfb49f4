"""The administrator's backup page: the nightly schedule, the backups in the folder, the last runs."""
from __future__ import annotations

import json

from flask import Blueprint, render_template

from archive_app.accounts.models import User
from archive_app.backup import backups
from archive_app.errors import DomainError
from archive_app.extensions import db
from archive_app.http import page
from archive_app.wiring import backup_destination, setting

bp = Blueprint("backup", __name__)


@page(bp, "/admin/backups", "backup.view")
def backups_page(user: User):
    dest = setting("BACKUP_DIR")
    folder: list[dict] = []
    unreadable = ""
    if dest:
        try:
            target = backup_destination(dest)
            names = backups.list_backups(target)
        except DomainError as exc:  # an S3 destination down or misconfigured: the page still shows the runs
            target, names, unreadable = None, [], exc.message
        for name in reversed(names):
            try:
                m = backups.read_manifest(target, name)
            except (DomainError, ValueError):
                continue  # removed or unreadable meanwhile: the runs below still tell what happened
            folder.append({"name": name, "objects": len(m["objects"]), "missing": len(m["missing"]),
                           "bytes": sum(o["size"] for o in m["objects"].values()),
                           "audit_key": m.get("audit_key_included", False)})
    runs = backups.recent_runs(db.session)
    return render_template("admin/backups.html", dest=dest, hour=setting("BACKUP_HOUR"), keep=setting("BACKUP_KEEP"),
                           folder=folder, unreadable=unreadable, runs=runs,
                           details={e.id: json.loads(e.details or "{}") for e in runs})
