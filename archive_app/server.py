"""Run the app under gunicorn.

gunicorn's threaded workers hand the request body to the app as it arrives on the socket, so an
upload streams socket -> spool file -> store without the server buffering the whole body first
(waitress did, which cost a third of the throughput on a 500 MB scan; see bench/upload.py).
"""
from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._app


def serve(app: Flask, *, host: str, port: int, workers: int = 2, threads: int = 8) -> None:
    """Serve ``app`` until interrupted. Workers fork after the app is built (no import-time app)."""
    # Each forked worker must open its own database connections.
    with app.app_context():
        from archive_app.extensions import db

        db.engine.dispose()
    _Gunicorn(app, {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        # Large uploads take long; the worker heartbeat is separate from request time in gthread.
        "timeout": 120,
        "graceful_timeout": 30,
        # No request-line limit here (gunicorn then caps it at 1 MB): a long search link would get
        # gunicorn's English "URI Too Long" page; the app answers past http.MAX_URL_CHARS in Chinese.
        "limit_request_line": 0,
        "accesslog": "-",
        "errorlog": "-",
        "proc_name": "archive",
        # gunicorn 27's control socket is one path per host (~/.gunicorn) shared by every instance
        # and adds seconds to shutdown; nothing here uses it.
        "control_socket_disable": True,
    }).run()
