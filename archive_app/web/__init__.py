"""Blueprints for the Jinja pages. Views parse the request, call a service, render."""
from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Register every web blueprint."""
    from . import admin, auth, customers, inbox, loans, records, retention, search

    for module in (auth, customers, records, search, loans, retention, inbox, admin):
        app.register_blueprint(module.bp)
