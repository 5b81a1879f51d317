"""The Deye time-of-use program, and the short window of it that control takes over.

A Deye hybrid has no volatile setpoint: control goes through its time-of-use program, which lives
in flash and never expires. Six programs cover the day as a ring: program i runs from its start
time (HHMM) until the next one's, the last until the first one's the next day, and the start
times rise from program 1 to 6 (kellerza/sunsynk three_phase_common.py `PROG1_TIME.min =
PROG6_TIME` … `PROG6_TIME.max = PROG1_TIME`). Each program has a power (the battery's power limit
in that window), a state of charge (the floor it discharges to, or the target it charges to from
the grid) and a charge word whose bits 0-1 allow grid/generator charging while bits 2-4 are its
mode and bit 5 (three-phase) or 6 (single-phase) its sell flag (kellerza/sunsynk
definitions/__init__.py PROG_CHARGE_OPTIONS, PROG_MODE_OPTIONS; field audit §4).

To bound what a crash of Home Assistant leaves behind, control never rewrites the whole program:
it writes its values into one program whose window is [now, now + 10..15 min) (quantised to
5 minutes so that a refresh every 5 minutes writes two start times at most), and makes the
program the user has at the window's end start there, so that after the window the inverter is
back in the user's own program. Each refresh moves the window on. A crash thus leaves the battery
forced for at most `WINDOW` minutes. What stays behind until Home Assistant starts again and
restores the saved program (the stored control record): the program used keeps its moved start
time and our values, so the same window recurs daily at that time of day, and the user's program
that preceded it is shorter (or, when the window lies in the first program of the day or before
it, the second program is replaced by the one running at the window's end).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

PROGRAMS = 6
DAY = 24 * 60  # minutes
LAST_MINUTE = DAY - 1  # 23:59, the latest start time HHMM can hold
QUANTUM = 5  # minutes: window edges move in these steps
WINDOW = 15  # minutes: the longest a window reaches past the last refresh
CHARGE_SOURCE_BITS = 0x03  # bit 0 grid, bit 1 generator; the other bits are the user's


def to_minutes(hhmm: int) -> int:
    """Return the minute of the day of an HHMM start time (1530 → 930)."""
    return min(hhmm // 100, 23) * 60 + min(hhmm % 100, 59)


def to_hhmm(minutes: int) -> int:
    """Return the HHMM word of a minute of the day (930 → 1530)."""
    return (minutes // 60) * 100 + minutes % 60


@dataclass(frozen=True)
class Program:
    """One program's settings (raw words, as the inverter holds them)."""

    power: int
    soc: int
    charge: int  # the whole charge word: source bits 0-1, the user's mode and sell bits above

    def with_source(self, source: int) -> Program:
        """Return this program with another charge source, keeping the mode and sell bits."""
        return replace(self, charge=(self.charge & ~CHARGE_SOURCE_BITS) | source)


@dataclass(frozen=True)
class Table:
    """The six programs: start times in minutes of the day, and their settings."""

    starts: tuple[int, ...]
    programs: tuple[Program, ...]

    def active(self, minute: int) -> int:
        """Return the program running at `minute`: the latest start not after it (a ring)."""
        started = [i for i in range(PROGRAMS) if self.starts[i] <= minute]
        return max(started) if started else PROGRAMS - 1

    def window(self, minute: int, *, power: int, soc: int, source: int) -> Table:
        """Return this (the user's) table with our program in force from now for a short window.

        Our program (`power`, `soc`, charge `source`) keeps the mode and sell bits of the slot it
        takes.

        The program the user has at the window's end starts at the window's end; the slot
        before it holds ours from the window's start. When that would be slot 6 before slot 1
        (the window lies in the first program, or in the night before it), slot 1 holds ours and
        slot 2 continues with the program of the window's end.
        """
        start = minute // QUANTUM * QUANTUM
        end = min(start + WINDOW, LAST_MINUTE)
        following = self.active(end)
        starts, programs = list(self.starts), list(self.programs)
        if following >= 1 and minute >= self.starts[0]:
            slot = following - 1
            if slot >= 1:  # the start times must keep rising
                start = min(max(start, self.starts[slot - 1] + 1), end - 1)
        else:
            slot, programs[1] = 0, self.programs[following]
            following = 1
        starts[slot], starts[following] = start, end
        programs[slot] = replace(self.programs[slot], power=power, soc=soc).with_source(source)
        return Table(tuple(starts), tuple(programs))

    def neutral(self, power: int, soc: int) -> Table:
        """Return this table with programs that do nothing of their own.

        Each runs at the inverter's power down to the battery's own floor, without grid
        charging, keeping its mode and sell bits.
        """
        return Table(
            self.starts,
            tuple(replace(p, power=power, soc=soc).with_source(0) for p in self.programs),
        )
