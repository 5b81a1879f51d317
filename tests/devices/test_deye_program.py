"""The Deye program window without a device: where control's short window goes in the table."""

from __future__ import annotations

import pytest

from custom_components.home_battery.devices.deye_program import (
    WINDOW,
    Program,
    Table,
    to_hhmm,
    to_minutes,
)

# The user's day: night charging from the grid, selling in the evening (mode/sell bits kept).
USER = Table(
    starts=tuple(to_minutes(t) for t in (0, 500, 900, 1600, 2100, 2300)),
    programs=(
        Program(power=3000, soc=80, charge=1 | 4),
        Program(power=5000, soc=30, charge=4),
        Program(power=5000, soc=40, charge=4),
        Program(power=5000, soc=40, charge=4),
        Program(power=5000, soc=30, charge=4 | 0x20),
        Program(power=3000, soc=80, charge=1 | 4),
    ),
)
OURS = {"power": 2000, "soc": 100, "source": 1}


def _at(hhmm: int) -> int:
    return to_minutes(hhmm)


def test_hhmm_round_trip() -> None:
    assert to_minutes(1530) == 930
    assert to_hhmm(930) == 1530
    assert to_minutes(2399) == 23 * 60 + 59  # clamped into the day


@pytest.mark.parametrize("now", [1200, 1203, 1359, 1544, 2259, 420, 0, 12, 2357])
def test_ours_runs_now_and_the_users_program_after_the_window(now: int) -> None:
    """Whatever the time: our program runs now, for at most `WINDOW` minutes after the last
    (5-minute) step, then the program the user has at that time of day runs again."""
    minute = _at(now)
    table = USER.window(minute, **OURS)
    active = table.active(minute)
    assert table.programs[active] == Program(2000, 100, USER.programs[active].charge | 1)
    end = table.starts[(active + 1) % 6]
    assert minute < end <= minute // 5 * 5 + WINDOW
    after = table.programs[table.active(end)]
    if minute >= USER.starts[0] and USER.active(end) >= 1:
        assert after == USER.programs[USER.active(end)]  # exactly the user's again
    assert list(table.starts) == sorted(table.starts)  # start times still rise


def test_in_the_middle_of_a_program_only_two_start_times_move() -> None:
    """12:00 in program 3 (09:00-16:00): program 2 holds ours from 12:00, program 3 resumes at
    12:15; the other programs are untouched; the mode and sell bits of the slot stay."""
    table = USER.window(_at(1200), **OURS)
    assert [to_hhmm(s) for s in table.starts] == [0, 1200, 1215, 1600, 2100, 2300]
    assert table.programs[1] == Program(2000, 100, 4 | 1)
    assert table.programs[2:] == USER.programs[2:]
    assert table.programs[0] == USER.programs[0]


def test_a_window_that_reaches_the_next_program_takes_the_current_slot() -> None:
    """15:55: the window ends at 16:10, in program 4: program 3 holds ours, program 4 starts at
    16:10 (its own settings)."""
    table = USER.window(_at(1555), **OURS)
    assert [to_hhmm(s) for s in table.starts] == [0, 500, 1555, 1610, 2100, 2300]
    assert table.programs[3] == USER.programs[3]


def test_in_the_first_program_slot_two_continues_it() -> None:
    """02:00 in program 1: there is no slot before it in the day; program 1 holds ours, program
    2 continues program 1's settings from the window's end."""
    table = USER.window(_at(200), **OURS)
    assert [to_hhmm(s) for s in table.starts] == [200, 215, 900, 1600, 2100, 2300]
    assert table.programs[1] == USER.programs[0]


def test_before_the_first_program_slot_two_continues_the_night() -> None:
    """A day starting at 01:00: at 00:20 the last program (from yesterday) runs; after our
    window program 2 continues it."""
    user = Table((60, *USER.starts[1:]), USER.programs)
    table = user.window(20, **OURS)
    assert table.starts[:2] == (20, 35)
    assert table.programs[1] == USER.programs[5]


def test_the_window_stops_at_the_end_of_the_day() -> None:
    table = USER.window(_at(2356), **OURS)
    assert to_hhmm(table.starts[5]) == 2359
    assert table.active(_at(2356)) == 4


def test_neutral_programs_keep_their_mode_and_sell_bits() -> None:
    table = USER.neutral(power=12000, soc=20)
    assert {p.power for p in table.programs} == {12000}
    assert [p.charge for p in table.programs] == [4, 4, 4, 4, 4 | 0x20, 4]
