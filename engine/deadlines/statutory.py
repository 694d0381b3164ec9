"""Statutory holidays at their legal dates (全国年节及纪念日放假办法), for years whose 放假安排 is not entered yet."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

from lunar_python import Lunar, Solar

# 全国年节及纪念日放假办法 as revised by the State Council on 2024-11-10, in force from 2025-01-01: 13 days a
# year. Earlier years followed older versions and are entered from the State Council notices; a provisional
# calendar stops at 2100, far enough ahead for any deadline and no claim that the law will hold longer.
FIRST_YEAR, LAST_YEAR = 2025, 2100


def covers(year: int) -> bool:
    """Whether a provisional calendar can be counted for `year`."""
    return FIRST_YEAR <= year <= LAST_YEAR


@lru_cache(maxsize=128)
def holidays(year: int) -> dict[date, str]:
    """The 13 days off of 办法 §2 in `year`, without 调休 (which only the yearly notice decides)."""
    if not covers(year):
        raise ValueError(f"{year} is outside {FIRST_YEAR}–{LAST_YEAR}")
    new_year = _solar(Lunar.fromYmd(year, 1, 1).getSolar())
    days = {date(year, 1, 1): "元旦"}
    # 春节: 农历除夕 and 正月初一至初三. 除夕 is the day before 初一 (腊月廿九 in a year whose 腊月 is short).
    days.update((new_year + timedelta(days=offset), "春节") for offset in range(-1, 3))
    # 清明 is a solar term (4 or 5 April), read from the lunar year that holds it.
    days[_solar(Lunar.fromYmd(year, 1, 1).getJieQiTable()["清明"])] = "清明节"
    days.update({date(year, 5, 1): "劳动节", date(year, 5, 2): "劳动节"})
    days[_solar(Lunar.fromYmd(year, 5, 5).getSolar())] = "端午节"
    days[_solar(Lunar.fromYmd(year, 8, 15).getSolar())] = "中秋节"
    # 中秋 can fall on 1–3 October (as on 2020-10-01): that day is one day off named for both.
    for day in (1, 2, 3):
        moment = date(year, 10, day)
        days[moment] = "国庆节、中秋节" if days.get(moment) == "中秋节" else "国庆节"
    return days


def _solar(solar: Solar) -> date:
    return date(solar.getYear(), solar.getMonth(), solar.getDay())
