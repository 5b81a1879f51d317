"""Checks in a real browser (marker `browser`, run by scripts/test when Chromium is present)."""
