"""How phone numbers and ID numbers look to someone who does not handle the customer: 139****5678,
110101********1234. Pure string functions; who sees what is decided in ``policy`` (``customer.pii_whole``)."""
from __future__ import annotations

import re

# A token of letters and digits holding five digits or more: a phone or an ID number (or credit code)
# typed into free text, e.g. a register's row error 「电话号码格式不正确：139123」.
_NUMBER_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(?=(?:[A-Za-z]*\d){5})[0-9A-Za-z]{5,24}(?![0-9A-Za-z])")
# The fields shown masked (the customer's, the change history's and the change requests' field names).
MASKED_FIELDS = ("phones", "id_number")


def mask_phone(phone: str) -> str:
    """139****5678: a number of 8 digits or more keeps its first 3 and last 4, a shorter one its last 2."""
    if len(phone) >= 8:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    return "*" * max(len(phone) - 2, 0) + phone[-2:]


def mask_phones(phones: str | None) -> str:
    """Every number of a comma-separated list masked (``mask_phone``)."""
    return ",".join(mask_phone(p) for p in (phones or "").split(",") if p)


def mask_id_number(number: str | None) -> str | None:
    """110101********1234: an 18-character ID number or credit code keeps its first 6 (the region or the
    registering authority) and last 4; a shorter one its first and last quarter."""
    if not number:
        return number
    if len(number) >= 18:
        return number[:6] + "*" * (len(number) - 10) + number[-4:]
    keep = len(number) // 4
    return number[:keep] + "*" * (len(number) - 2 * keep) + number[len(number) - keep:] if keep else "*" * len(number)


def mask_field(field: str, value: str) -> str:
    """A customer field's text as a viewer without whole values sees it (only phones and ID number change)."""
    if field == "phones":
        return mask_phones(value)
    if field == "id_number":
        return mask_id_number(value) or ""
    return value


def mask_numbers_in(text: str) -> str:
    """Free text with every phone- or ID-like number in it masked (18 characters: as an ID number)."""
    def one(found: re.Match[str]) -> str:
        token = found.group(0)
        return mask_id_number(token) or "" if len(token) >= 15 else mask_phone(token)
    return _NUMBER_IN_TEXT.sub(one, text)
