"""Borrowing (借阅): requests, the approval chain, access windows, paper originals, the 查阅登记表, watermarks."""
