"""PRC resident ID numbers (居民身份证号码, GB 11643-1999): validation, masking, parsing, generation."""

from __future__ import annotations

from datetime import date

__all__ = [
    "InvalidIdNumber",
    "birth_date",
    "check_digit",
    "gender",
    "generate_id_number",
    "mask_id_number",
    "validate_id_number",
]

# ISO 7064 MOD 11-2 weights for the first 17 digits.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"  # indexed by (weighted sum mod 11)

# First two digits of the administrative division code (GB/T 2260), including
# Taiwan, Hong Kong, Macao and the code used for residents abroad.
_PROVINCE_CODES = frozenset({
    "11", "12", "13", "14", "15",
    "21", "22", "23",
    "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46",
    "50", "51", "52", "53", "54",
    "61", "62", "63", "64", "65",
    "71", "81", "82", "91",
})

_EARLIEST_BIRTH = date(1900, 1, 1)


class InvalidIdNumber(ValueError):
    """An ID number that fails GB 11643-1999; the message is shown to clerks as is."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def check_digit(first17: str) -> str:
    """The MOD 11-2 check character ('0'-'9' or 'X') for 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise InvalidIdNumber("身份证号码前17位应为数字")
    total = sum(int(ch) * w for ch, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def _normalize(value: str) -> str:
    # Clerks paste numbers with spaces (and full-width ones from Chinese input
    # methods) and type the final x in lower case.
    text = "".join(value.split())
    return text[:-1] + text[-1:].upper()


def _parse_birth(number: str) -> date | None:
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def validate_id_number(value: str, today: date | None = None) -> str:
    """Return the normalized 18-character number, or raise InvalidIdNumber saying what is wrong."""
    if not isinstance(value, str):
        raise InvalidIdNumber("身份证号码应为文本")
    number = _normalize(value)
    if not number:
        raise InvalidIdNumber("请填写身份证号码")
    if len(number) != 18:
        raise InvalidIdNumber("身份证号码应为18位")
    body, last = number[:17], number[17]
    # isdigit() alone accepts full-width and other Unicode digits.
    if not (body.isascii() and body.isdigit()):
        raise InvalidIdNumber("身份证号码前17位应为数字")
    if not (last == "X" or (last.isascii() and last.isdigit())):
        raise InvalidIdNumber("身份证号码最后一位应为数字或X")
    if number[:2] not in _PROVINCE_CODES:
        raise InvalidIdNumber("身份证号码前6位的地区码无效")
    born = _parse_birth(number)
    if born is None or born < _EARLIEST_BIRTH:
        raise InvalidIdNumber("身份证号码中的出生日期无效")
    if born > (today or date.today()):
        raise InvalidIdNumber("身份证号码中的出生日期晚于今天")
    if check_digit(body) != last:
        raise InvalidIdNumber("身份证号码校验位不正确，请核对")
    return number


def mask_id_number(value: str) -> str:
    """Show the first 6 and last 4 characters: 110101********1234."""
    number = _normalize(value) if isinstance(value, str) else ""
    if len(number) == 18:
        return number[:6] + "*" * 8 + number[14:]
    # A malformed number is most likely a real one with a typo: never echo it
    # in full either.
    if len(number) > 10:
        return number[:6] + "*" * (len(number) - 10) + number[-4:]
    return "*" * len(number)


def birth_date(value: str) -> date:
    """Date of birth encoded in a valid ID number."""
    number = validate_id_number(value, today=date.max)
    born = _parse_birth(number)
    assert born is not None  # validate_id_number checked it
    return born


def age_on(born: date, day: date) -> int:
    """周岁 on `day`: whole years since birth (one born on 29 February turns a year older on 1 March)."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def gender(value: str) -> str:
    """'男' or '女', from the parity of the 17th digit."""
    number = validate_id_number(value, today=date.max)
    return "男" if int(number[16]) % 2 else "女"


def generate_id_number(division: str, born: date, seq: int) -> str:
    """A valid number for a 6-digit division code, birth date and 3-digit sequence (odd = male)."""
    if len(division) != 6 or not (division.isascii() and division.isdigit()):
        raise InvalidIdNumber("地区码应为6位数字")
    if division[:2] not in _PROVINCE_CODES:
        raise InvalidIdNumber("身份证号码前6位的地区码无效")
    if not 0 <= seq <= 999:
        raise InvalidIdNumber("顺序码应在0到999之间")
    if born < _EARLIEST_BIRTH:
        raise InvalidIdNumber("身份证号码中的出生日期无效")
    first17 = f"{division}{born:%Y%m%d}{seq:03d}"
    return first17 + check_digit(first17)
