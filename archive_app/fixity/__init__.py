"""Fixity: stored originals re-hashed against their SHA-256, runs and per-file results kept."""
