"""Tests for resident ID number validation, masking, parsing and generation."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from engine.idcard import (
    InvalidIdNumber,
    birth_date,
    check_digit,
    gender,
    generate_id_number,
    mask_id_number,
    validate_id_number,
)

TODAY = date(2024, 6, 1)

# The worked example printed in GB 11643-1999.
STANDARD_EXAMPLE = "11010519491231002X"


def _with_wrong_check(number: str) -> str:
    wrong = next(c for c in "0123456789X" if c != number[17])
    return number[:17] + wrong


def test_standard_example_is_valid() -> None:
    assert validate_id_number(STANDARD_EXAMPLE, today=TODAY) == STANDARD_EXAMPLE
    assert check_digit(STANDARD_EXAMPLE[:17]) == "X"
    assert birth_date(STANDARD_EXAMPLE) == date(1949, 12, 31)
    assert gender(STANDARD_EXAMPLE) == "女"


@pytest.mark.parametrize(
    ("division", "born", "seq"),
    [
        ("110101", date(1990, 1, 1), 123),
        ("420102", date(1965, 7, 15), 1),
        ("530102", date(2000, 2, 29), 998),
        ("650102", date(1900, 1, 1), 0),
        ("810000", date(2010, 12, 31), 555),
        ("360402", TODAY, 42),
    ],
)
def test_generated_numbers_pass(division: str, born: date, seq: int) -> None:
    number = generate_id_number(division, born, seq)
    assert len(number) == 18
    assert number.startswith(division + born.strftime("%Y%m%d") + f"{seq:03d}")
    assert validate_id_number(number, today=TODAY) == number
    assert birth_date(number) == born
    assert gender(number) == ("男" if seq % 2 else "女")


def test_every_check_character_is_produced() -> None:
    seen = {
        generate_id_number("330106", date(1980, 3, 4), seq)[17] for seq in range(200)
    }
    assert seen == set("0123456789X")


def test_normalizes_spaces_and_lower_case_x() -> None:
    messy = " 110105 19491231 002x "
    assert validate_id_number(messy, today=TODAY) == STANDARD_EXAMPLE
    assert validate_id_number("110105\u300019491231002x", today=TODAY) == STANDARD_EXAMPLE


def test_wrong_check_digit() -> None:
    number = generate_id_number("110101", date(1990, 1, 1), 123)
    with pytest.raises(InvalidIdNumber, match="^身份证号码校验位不正确，请核对$"):
        validate_id_number(_with_wrong_check(number), today=TODAY)


def test_impossible_birth_date() -> None:
    first17 = "110101" + "19990230" + "123"
    number = first17 + check_digit(first17)  # check digit right, date impossible
    with pytest.raises(InvalidIdNumber, match="^身份证号码中的出生日期无效$"):
        validate_id_number(number, today=TODAY)


def test_birth_before_1900() -> None:
    first17 = "440524" + "18800101" + "001"
    with pytest.raises(InvalidIdNumber, match="^身份证号码中的出生日期无效$"):
        validate_id_number(first17 + check_digit(first17), today=TODAY)


def test_future_birth_date() -> None:
    number = generate_id_number("110101", TODAY + timedelta(days=1), 123)
    with pytest.raises(InvalidIdNumber, match="^身份证号码中的出生日期晚于今天$"):
        validate_id_number(number, today=TODAY)


def test_today_defaults_to_the_real_date() -> None:
    number = generate_id_number("110101", date.today() + timedelta(days=400), 123)
    with pytest.raises(InvalidIdNumber, match="晚于今天"):
        validate_id_number(number)


@pytest.mark.parametrize("value", [STANDARD_EXAMPLE[:17], STANDARD_EXAMPLE + "1", "123"])
def test_wrong_length(value: str) -> None:
    with pytest.raises(InvalidIdNumber, match="^身份证号码应为18位$"):
        validate_id_number(value, today=TODAY)


def test_empty() -> None:
    with pytest.raises(InvalidIdNumber, match="请填写身份证号码"):
        validate_id_number("   ", today=TODAY)


@pytest.mark.parametrize(
    "value",
    ["11010519491231A02X", "X1010519491231002X", "１１0105194912310021"],  # letters, full-width digits
)
def test_letters_in_first_17(value: str) -> None:
    with pytest.raises(InvalidIdNumber, match="^身份证号码前17位应为数字$"):
        validate_id_number(value, today=TODAY)


def test_bad_last_character() -> None:
    with pytest.raises(InvalidIdNumber, match="^身份证号码最后一位应为数字或X$"):
        validate_id_number(STANDARD_EXAMPLE[:17] + "Y", today=TODAY)


@pytest.mark.parametrize("prefix", ["00", "10", "16", "20", "39", "47", "55", "66", "72", "80", "90", "99"])
def test_bad_province_code(prefix: str) -> None:
    first17 = prefix + "0101" + "19900101" + "123"
    with pytest.raises(InvalidIdNumber, match="^身份证号码前6位的地区码无效$"):
        validate_id_number(first17 + check_digit(first17), today=TODAY)


def test_error_is_a_value_error_with_message() -> None:
    with pytest.raises(ValueError) as info:
        validate_id_number("1", today=TODAY)
    assert isinstance(info.value, InvalidIdNumber)
    assert info.value.message == "身份证号码应为18位"


def test_mask() -> None:
    number = generate_id_number("110101", date(1990, 1, 1), 123)
    masked = mask_id_number(number)
    assert masked == number[:6] + "********" + number[14:]
    assert masked.startswith("110101********")
    assert len(masked) == 18
    assert mask_id_number(" 110105 19491231 002x") == "110105********002X"


def test_mask_never_echoes_a_malformed_number() -> None:
    assert mask_id_number("11010519491231002") == "110105" + "*" * 7 + "1002"
    assert mask_id_number("1234567") == "*******"
    assert mask_id_number("") == ""


def test_birth_date_and_gender_refuse_invalid_numbers() -> None:
    with pytest.raises(InvalidIdNumber):
        birth_date("110101199002301234")
    with pytest.raises(InvalidIdNumber):
        gender(_with_wrong_check(STANDARD_EXAMPLE))


@pytest.mark.parametrize(
    ("division", "born", "seq", "message"),
    [
        ("11010", date(1990, 1, 1), 1, "地区码应为6位数字"),
        ("990101", date(1990, 1, 1), 1, "地区码无效"),
        ("110101", date(1990, 1, 1), 1000, "顺序码"),
        ("110101", date(1899, 12, 31), 1, "出生日期无效"),
    ],
)
def test_generate_refuses_bad_input(division: str, born: date, seq: int, message: str) -> None:
    with pytest.raises(InvalidIdNumber, match=message):
        generate_id_number(division, born, seq)
