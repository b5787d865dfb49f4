"""What a new password must be: long enough, not the username, not a common or guessable one.

"Common" is zxcvbn's judgement (MIT; its own lists of frequent passwords, words, names, keyboard
patterns, sequences, repeats and dates): a password it scores below 2 ("too guessable") is refused.
Every path that sets a password asks here: creating a user, changing one's own, an admin's reset.
"""
from __future__ import annotations

import secrets
import string

from archive_app.errors import ValidationFailed
from archive_app.i18n import _

MIN_LENGTH = 10
MAX_LENGTH = 128
# zxcvbn's matching grows fast with length and refuses more than 72 characters; what comes after
# the first 72 can only make a password stronger, so the prefix decides.
_ESTIMATE_CHARS = 72
MIN_SCORE = 2
# A username shorter than this inside a password ("li" in "klingon…") says nothing about it.
_MIN_NAME_IN_PASSWORD = 3
_GENERATED_ALPHABET = string.ascii_letters + string.digits
_GENERATED_LENGTH = 16


def _score(password: str, user_inputs: list[str]) -> int:
    # Imported here: its word lists take ~13 MB, which every worker process would carry for nothing.
    from zxcvbn import zxcvbn

    return zxcvbn(password, user_inputs=user_inputs)["score"]


def _weak(message: str) -> ValidationFailed:
    return ValidationFailed(message, code="weak_password")


def check_new_password(password: str, username: str) -> None:
    """Refuse a password nobody should be given: raises ValidationFailed(code="weak_password") saying why."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise _weak(_("密码至少 %(min_length)s 个字符", min_length=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        raise _weak(_("密码不能超过 %(max_length)s 个字符", max_length=MAX_LENGTH))
    name = (username or "").strip().casefold()
    folded = password.casefold()
    if name and (folded == name or (len(name) >= _MIN_NAME_IN_PASSWORD and name in folded)):
        raise _weak(_("密码不能是用户名，也不能包含用户名"))
    if _score(password[:_ESTIMATE_CHARS], [name] if name else []) < MIN_SCORE:
        raise _weak(_("密码太常见或太容易猜到（如常用密码、连续数字、键盘顺序、重复字符），请换一个"))


def generate_password() -> str:
    """A random temporary password that passes ``check_new_password`` (shown once, changed at next login)."""
    while True:
        candidate = "".join(secrets.choice(_GENERATED_ALPHABET) for _ in range(_GENERATED_LENGTH))
        # Random 16 characters virtually always pass; the loop only guards the freak case.
        if _score(candidate, []) >= 4:
            return candidate
