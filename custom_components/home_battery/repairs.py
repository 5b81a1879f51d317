"""Repair issues about a battery's connection, raised and cleared by its coordinator."""

from __future__ import annotations

from collections import deque

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN, LOGGER

# Takeovers within the window that raise the issue, and the quiet time that clears it again.
TAKEOVERS_FOR_ISSUE = 3
TAKEOVER_WINDOW_SECONDS = 300.0
STABLE_AFTER_SECONDS = 900.0


class ConnectionTakeoverIssue:
    """Raise "another client keeps taking the connection" for a single-client device.

    Such a device (a Huawei inverter) drops the older connection when another client connects.
    The integration reconnects at once, so each takeover costs little, but two clients taking
    turns both lose data: the user should give the device one client (or a Modbus proxy).
    """

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        """Track one entry's device; the issue is named after the entry."""
        self._hass = hass
        self._entry = entry
        self._issue_id = f"connection_taken_over_{entry.entry_id}"
        self._seen = 0
        self._recent: deque[float] = deque()
        self._last_takeover: float | None = None
        self._raised = False

    @callback
    def update(self, takeovers: int, now: float) -> None:
        """Take the device's takeover count after a poll; `now` is monotonic seconds."""
        for _ in range(max(takeovers - self._seen, 0)):
            self._recent.append(now)
            self._last_takeover = now
        self._seen = takeovers
        while self._recent and now - self._recent[0] > TAKEOVER_WINDOW_SECONDS:
            self._recent.popleft()
        if not self._raised and len(self._recent) >= TAKEOVERS_FOR_ISSUE:
            self._raised = True
            LOGGER.warning(
                "%s: another client keeps taking the Modbus connection (%d times in %.0f s)",
                self._entry.title,
                len(self._recent),
                TAKEOVER_WINDOW_SECONDS,
            )
            ir.async_create_issue(
                self._hass,
                DOMAIN,
                self._issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key="connection_taken_over",
                translation_placeholders={"title": self._entry.title},
            )
        elif (
            self._raised
            and self._last_takeover is not None
            and now - self._last_takeover > STABLE_AFTER_SECONDS
        ):
            LOGGER.info("%s: the Modbus connection is stable again", self._entry.title)
            self.clear()

    @callback
    def clear(self) -> None:
        """Remove the issue (stable again, or the entry is unloaded)."""
        self._raised = False
        self._recent.clear()
        ir.async_delete_issue(self._hass, DOMAIN, self._issue_id)
