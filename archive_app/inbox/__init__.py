"""Inbox (消息): what waits for each user, computed from the state of loans, originals and disposals."""
