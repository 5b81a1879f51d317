"""Model variants of a family's case: another simulated model under another entry title.

The shared suite can run them beside the families' own cases (ids by title); each variant's
entity ids follow its title.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from homeassistant.util import slugify

from . import FamilyCase


def variant(
    case: FamilyCase, title: str, *, drop: tuple[str, ...] = (), **changes: Any
) -> FamilyCase:
    """Return `case` for another model: its expectations under `title`, less the `drop`ped
    entity suffixes (what the model does not have), with `changes` applied."""
    old, new = slugify(case.title), slugify(title)
    expected = {
        entity_id.replace(f".{old}_", f".{new}_", 1): value
        for entity_id, value in case.expected.items()
        if not entity_id.endswith(drop)
    }
    return replace(case, title=title, expected=expected, variant=new, **changes)
