"""Intake: customers (一户一档), records, 档号 numbering, uploads and review (档案审核)."""
