"""Backups: a consistent copy of the database and of every stored object it points to, verified and restored.

``backups.py`` holds the plain functions (``create_backup``, ``verify_backup``, ``restore_backup``);
the ``archive backup`` / ``backup-verify`` / ``restore`` commands call them.
"""
