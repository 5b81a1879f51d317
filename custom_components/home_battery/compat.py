"""What differs between the Home Assistant versions the integration supports (2025.4 to 2026.10)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant import config_entries

# Home Assistant 2025.8 and newer reload an entry after its options flow themselves
# (OptionsFlowWithReload); 2026.10 reports an update listener beside a flow that reloads (it
# stops working in 2026.12). Before, the integration's own update listener reloads the entry.
OPTIONS_FLOW_RELOADS = hasattr(config_entries, "OptionsFlowWithReload")
if TYPE_CHECKING:
    OptionsFlowBase = config_entries.OptionsFlow
else:
    OptionsFlowBase = getattr(config_entries, "OptionsFlowWithReload", config_entries.OptionsFlow)
