"""Accounts: users, departments, roles, clearances, API tokens, log-in and the administrator's pages."""
