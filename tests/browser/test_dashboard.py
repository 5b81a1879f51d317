"""The demo's dashboard in headless Chromium, with Home Assistant's real frontend.

Starts the demo (simulators + Home Assistant) on a free loopback port, logs in through the auth
API, opens dashboards/home_battery.yaml and checks that every card rendered with data: no error
or warning cards, the plan card's SVG drawn (bars, price and power lines), the history and
statistics charts holding points, the gauge and the entity rows showing values. Leaves
artifacts/dashboard.png and artifacts/dashboard.json (timings, card size) behind.

Marker `browser`: deselected from the main run; `pytest -m browser` (scripts/test does it when
/usr/bin/chromium exists, after scripts/setup-browser).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
import json
from pathlib import Path
import time
from typing import Any

from homeassistant.util.yaml import load_yaml
import pytest

from custom_components.home_battery.frontend import CARD_FILE

from ..simulators.demo_dashboard import REPOSITORY
from .demo_server import Demo, run_demo

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DASHBOARD = REPOSITORY / "dashboards" / "home_battery.yaml"
DASHBOARD_URL = "/home-battery/battery"  # configuration.yaml's url_path, the view's path
ARTIFACTS = REPOSITORY / "artifacts"
SCHEDULE = "sensor.victron_gx_schedule"
BATTERY_POWER = "sensor.victron_gx_battery_power"

# Everything the test asks the page, in one evaluation: elements are searched through every
# shadow root (Home Assistant's frontend is made of web components).
REPORT_JS = """
() => {
  const deep = (selector) => {
    const found = [];
    const walk = (root) => {
      root.querySelectorAll(selector).forEach((el) => found.push(el));
      root.querySelectorAll("*").forEach((el) => el.shadowRoot && walk(el.shadowRoot));
    };
    walk(document);
    return found;
  };
  const cardOf = (el) => {
    for (let node = el; node; node = node.parentNode || node.host) {
      const tag = (node.tagName || "").toLowerCase();
      if (tag.endsWith("-card") && tag !== "ha-card") return tag;
    }
    return null;
  };
  const text = (el) => (el.shadowRoot || el).textContent.replace(/\\s+/g, " ").trim();
  const plan = deep("home-battery-plan-card")[0];
  const svg = plan && plan.shadowRoot.querySelector("svg");
  const pathLength = (cls) => {
    const path = svg && svg.querySelector(`path.${cls}`);
    return path ? path.getAttribute("d").length : 0;
  };
  const isCard = (tag) =>
    (tag.startsWith("hui-") && tag.endsWith("-card")) || tag === "home-battery-plan-card";
  const message = plan && plan.shadowRoot.querySelector(".message");
  return {
    cards: deep("*").map((el) => el.tagName.toLowerCase()).filter(isCard),
    errors: deep("hui-error-card").map(text),
    warnings: deep("hui-warning").map(text),
    plan: plan && {
      drawn: Number(plan.getAttribute("data-drawn")),
      slots: Number(svg.dataset.slots),
      actualPoints: Number(svg.dataset.actualPoints),
      renderMs: Number(svg.dataset.renderMs),
      bars: svg.querySelectorAll("rect.plan").length,
      paths: svg.querySelectorAll("path").length,
      price: pathLength("price"),
      plannedSoc: pathLength("plan-soc"),
      actualPower: pathLength("actual-power"),
      actualSoc: pathLength("actual-soc"),
      message: message.hidden ? "" : text(message),
    },
    charts: deep("ha-chart-base").map((chart) => ({
      card: cardOf(chart),
      points: (chart.data || []).map((series) => (series.data || []).length),
      text: text(chart.parentNode.host || chart.parentNode),
    })),
    gauges: deep("ha-gauge").map((gauge) => gauge.value),
    rows: deep("hui-sensor-entity-row, hui-simple-entity-row").map(text),
  };
}
"""


def _expected_cards() -> Counter[str]:
    """The card elements the dashboard's YAML asks for, by tag."""
    tags: Counter[str] = Counter()
    dashboard: dict[str, Any] = load_yaml(DASHBOARD)  # type: ignore[assignment]
    for view in dashboard["views"]:
        for section in view.get("sections", [{"cards": view.get("cards", [])}]):
            for card in section["cards"]:
                kind = card["type"]
                tags[
                    kind.removeprefix("custom:")
                    if kind.startswith("custom:")
                    else f"hui-{kind}-card"
                ] += 1
    return tags


def _wait_for_charts(page: Any, timeout: float = 60) -> None:
    """Wait until the built-in charts hold points and stop changing (they load in parts)."""
    deadline = time.monotonic() + timeout
    last, steady = None, 0
    while time.monotonic() < deadline:
        charts = page.evaluate(REPORT_JS)["charts"]
        points = [chart["points"] for chart in charts]
        filled = sum(1 for p in points if any(p))
        steady = steady + 1 if points == last and filled >= 4 else 0
        if steady >= 3:
            return
        last = points
        time.sleep(1)
    raise TimeoutError(f"charts still loading after {timeout:.0f} s: {last}")


@pytest.fixture
def demo(socket_enabled: None, tmp_path: Path) -> Iterator[Demo]:
    """The demo, started and filled: a plan, a week of statistics, recent history."""
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed (scripts/setup-browser installs it)")
    pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    with run_demo(tmp_path) as running:
        running.wait("Home Assistant started", running.running, 180)
        running.wait(
            "a plan with slots",
            lambda: (running.state(SCHEDULE) or {}).get("attributes", {}).get("slots"),
            120,
        )
        running.wait(
            "a week of statistics", lambda: "Imported a week" in running.log.read_text(), 60
        )
        running.wait(
            "battery power history", lambda: running.history_points(BATTERY_POWER) >= 3, 90
        )
        yield running


def test_dashboard_renders_with_data(demo: Demo) -> None:
    """Every card of the dashboard renders with data; screenshot and timings are saved."""
    from playwright.sync_api import sync_playwright

    assert demo.tokens is not None
    # What the frontend keeps after a login: injected so the page opens logged in.
    tokens = {
        **demo.tokens,
        "hassUrl": demo.url,
        "clientId": demo.client_id,
        "expires": int(time.time() * 1000) + demo.tokens["expires_in"] * 1000,
    }
    ARTIFACTS.mkdir(exist_ok=True)
    page_errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            # Reduced motion: the charts draw without animation, so the screenshot is final.
            page = browser.new_page(
                viewport={"width": 1400, "height": 1100}, reduced_motion="reduce"
            )
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            page.add_init_script(
                f"localStorage.setItem('hassTokens', {json.dumps(json.dumps(tokens))})"
            )
            started = time.monotonic()
            page.goto(f"{demo.url}{DASHBOARD_URL}")
            try:
                page.wait_for_selector("home-battery-plan-card[data-drawn]", timeout=60_000)
                drawn_after = time.monotonic() - started
                _wait_for_charts(page)
            except Exception:
                page.screenshot(path=str(ARTIFACTS / "dashboard-failed.png"), full_page=True)
                raise
            report: dict[str, Any] = page.evaluate(REPORT_JS)
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        finally:
            browser.close()

    figures = {
        "card_bytes": CARD_FILE.stat().st_size,
        "plan_drawn_ms_after_navigation_start": report["plan"]["drawn"],
        "plan_drawn_s_after_goto": round(drawn_after, 2),
        "report": report,
    }
    (ARTIFACTS / "dashboard.json").write_text(json.dumps(figures, indent=2))

    assert page_errors == []
    assert report["errors"] == []
    assert report["warnings"] == []
    rendered = Counter(report["cards"])
    for tag, count in _expected_cards().items():
        assert rendered[tag] >= count, (tag, rendered)

    plan = report["plan"]
    assert plan["message"] == ""
    assert plan["slots"] > 0
    assert plan["bars"] > 0
    assert plan["price"] > 0
    assert plan["plannedSoc"] > 0
    assert plan["actualPower"] > 0
    assert plan["actualPoints"] >= 3
    assert plan["drawn"] > 0

    charts = Counter(chart["card"] for chart in report["charts"] if any(chart["points"]))
    assert charts["hui-history-graph-card"] == 2, report["charts"]
    assert charts["hui-statistics-graph-card"] == 2, report["charts"]
    assert report["gauges"]
    assert all(0 <= float(value) <= 100 for value in report["gauges"])
    assert report["rows"]
    assert not [row for row in report["rows"] if row in ("Unavailable", "Unknown", "")]

    # The demo's Home Assistant had nothing to complain about in the dashboard's parts.
    loggers = (
        "homeassistant.components.template",
        "homeassistant.components.automation",
        "homeassistant.components.blueprint",
        "homeassistant.components.lovelace",
        "custom_components.home_battery.frontend",
    )
    errors = [line for line in demo.log.read_text().splitlines() if " ERROR " in line]
    assert not [line for line in errors if any(f"[{logger}" in line for logger in loggers)]
