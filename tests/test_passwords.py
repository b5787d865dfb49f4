"""Password rules: at least 10 characters, not the username, not a common or guessable password."""
from __future__ import annotations

import pytest

from archive_app.accounts.passwords import check_new_password, generate_password
from archive_app.errors import ValidationFailed

from .conftest import PASSWORD


def _refusal(password: str, username: str = "wangli") -> str:
    with pytest.raises(ValidationFailed) as caught:
        check_new_password(password, username)
    assert caught.value.code == "weak_password"
    return caught.value.message


@pytest.mark.parametrize("password", ["12345678", "1234567", "Ab3$xyz", ""])
def test_short_passwords_are_refused(password: str) -> None:
    assert "至少 10 个字符" in _refusal(password)


@pytest.mark.parametrize("password", ["password123", "qwertyuiop", "1234567890", "abcdefghij", "aaaaaaaaaaaa",
                                      "iloveyou12", "Password2024", "qwerty123456"])
def test_common_and_guessable_passwords_are_refused(password: str) -> None:
    assert "常见" in _refusal(password)


@pytest.mark.parametrize("username,password", [("zhangsan2024", "ZhangSan2024"), ("lihua", "x-lihua-Blue-42"),
                                               ("chenjing", "Spring-CHENJING-7")])
def test_the_username_in_any_case_is_refused(username: str, password: str) -> None:
    assert "用户名" in _refusal(password, username)


def test_overlong_passwords_are_refused() -> None:
    assert "不能超过 128" in _refusal("Zq8#" * 33)


@pytest.mark.parametrize("password", [PASSWORD, "Borrow-Test-Pw-2024!", "Browser-Test-Pw-2024!", "晴天-海岸-2031-蓝鲸",
                                      "k7Hq2mVx9pLw" * 10])
def test_strong_passwords_are_accepted(password: str) -> None:
    check_new_password(password, "wangli")


def test_generated_passwords_pass_the_rules_and_differ() -> None:
    made = {generate_password() for _ in range(20)}
    assert len(made) == 20
    for password in made:
        check_new_password(password, "wangli")
