"""Domain operations: plain functions over a SQLAlchemy session and plain values; no Flask request."""
