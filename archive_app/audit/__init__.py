"""Audit: the append-only log of every access and change, chained with a keyed MAC and anchored outside the database, and its verification."""
