"""pytest plugin: a deprecated call from our code (the integration or its tests) fails the test.

scripts/test loads it for the newest Home Assistant run (`-p no_deprecations`, scripts/ on the
PYTHONPATH). Home Assistant reports a deprecated call by logging, not by a Python warning, so two
things are watched, and only what comes from this repository counts, never a library's own use:

- Python's DeprecationWarning/PendingDeprecationWarning whose warning location (the caller the
  library blamed) is a module of ours: turned into errors by warning filters, so the test fails at
  the call.
- Home Assistant's reports (helpers/frame.py `report_usage`, helpers/deprecation.py): "Detected
  that custom integration 'home_battery' …" and "The deprecated … was used from home_battery",
  which Home Assistant attributes itself; and the same reports without an integration ("Detected
  code that …", "The deprecated … was used."), attributed here to the innermost frame outside
  Home Assistant and the standard library when that frame is ours (a test's own call). A test
  during which one is logged fails with the report.
"""

from __future__ import annotations

from collections.abc import Generator
import logging
from pathlib import Path
import re
import sys
import sysconfig
from types import FrameType
from typing import Any

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
OURS = (str(REPOSITORY / "custom_components" / "home_battery"), str(REPOSITORY / "tests"))
DOMAIN = "home_battery"
# The warning filters: the module is the one the warning was attributed to (its stacklevel).
FILTERS = [
    rf"error::{category}:{module}"
    for category in ("DeprecationWarning", "PendingDeprecationWarning")
    for module in (r"custom_components\.home_battery", r"tests\.")
]
# Home Assistant's report when it found no integration frame: the caller is to be found here.
_NO_INTEGRATION = re.compile(r"(Detected code that |The deprecated \S+ \S+ was \w+\.)")
_NOT_THE_CALLER = (
    sysconfig.get_paths()["stdlib"],
    sysconfig.get_paths()["purelib"] + "/homeassistant/",
    sysconfig.get_paths()["platlib"] + "/homeassistant/",
)


def _is_report(record: logging.LogRecord) -> bool:
    """Return True for Home Assistant's deprecated-use reports."""
    message = record.getMessage()
    return (
        record.name == "homeassistant.helpers.frame" and message.startswith("Detected ")
    ) or message.startswith("The deprecated ")


def _named_ours(message: str) -> bool:
    """Return True when Home Assistant named our integration as the caller."""
    return f"integration '{DOMAIN}'" in message or f" from {DOMAIN}." in message


def _caller_is_ours(frame: FrameType | None) -> bool:
    """Return True when the innermost frame outside HA and the standard library is ours."""
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename != __file__ and not filename.startswith(_NOT_THE_CALLER):
            return filename.startswith(OURS)
        frame = frame.f_back
    return False


class _Reports(logging.Handler):
    """Keeps the deprecated-use reports that point at our code until the test's report."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.ours: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not _is_report(record):
            return
        message = record.getMessage()
        if _named_ours(message) or (
            # Attributed by HA to no integration: the caller is on the stack right now.
            _NO_INTEGRATION.match(message) and _caller_is_ours(sys._getframe())
        ):
            self.ours.append(message)


_REPORTS = _Reports()


def pytest_configure(config: pytest.Config) -> None:
    """Add the warning filters and start listening to Home Assistant's reports."""
    for line in FILTERS:
        config.addinivalue_line("filterwarnings", line)
    logging.getLogger().addHandler(_REPORTS)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop listening."""
    logging.getLogger().removeHandler(_REPORTS)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[Any]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Fail the phase (setup, call or teardown) during which our code made a deprecated call."""
    report = yield
    if _REPORTS.ours:
        text = "Deprecated use by home_battery or its tests:\n" + "\n".join(
            f"- {report}" for report in _REPORTS.ours
        )
        _REPORTS.ours.clear()
        if report.passed:
            report.outcome = "failed"
            report.longrepr = text
        else:
            report.sections.append(("deprecated use", text))
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Fail the run for a report outside any test (collection, session fixtures)."""
    if _REPORTS.ours:
        print("\nDeprecated use by home_battery or its tests:", *_REPORTS.ours, sep="\n- ")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
