"""Audit: the append-only, hash-chained log of every access and change, and its verification."""
