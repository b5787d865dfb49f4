"""Visits (来访): visitor cards (温馨卡) as data, customer grades with their history, follow-ups (回访)."""
