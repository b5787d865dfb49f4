"""Corrections (客户数据变更): change requests and their approvals, the change history, quarterly verification."""
