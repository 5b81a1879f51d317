// Home Battery plan card: prices, the planned battery power and state of charge, and what the
// battery actually did, on one time axis. Served by the home_battery integration itself; plain
// JavaScript drawing its own SVG, so it needs no build step, no other card and no network.
//
//   type: custom:home-battery-plan-card
//   entity: sensor.my_battery_schedule        # the battery's `schedule` sensor (required)
//   power_entity: sensor.my_battery_battery_power       # default: derived from `entity`
//   state_of_charge_entity: sensor.my_battery_state_of_charge
//   hours_to_show: 12                         # past hours of actual power shown before now
//   title: Battery plan
//
// Signs follow Home Assistant's energy dashboard: battery power + discharging (bars up),
// - charging (bars down).

const CARD = "home-battery-plan-card";
const HISTORY_REFRESH_MS = 5 * 60 * 1000;
const PAST_PLAN_KEEP_MS = 48 * 3600 * 1000;
const SVG_HEIGHT = 300;
const PAD = { left: 52, right: 40, top: 8, bottom: 22 };
const PRICE_HEIGHT = 80; // the price panel above the power panel
const PANEL_GAP = 14;
const COLORS = {
  price: "var(--warning-color, #ff9800)",
  discharge: "var(--energy-battery-out-color, #4db6ac)",
  charge: "var(--energy-battery-in-color, #f06292)",
  soc: "var(--primary-color, #03a9f4)",
  actual: "var(--primary-text-color, #212121)",
  grid: "var(--divider-color, rgba(0,0,0,.12))",
  text: "var(--secondary-text-color, #727272)",
};

const esc = (text) =>
  String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const num = (value) => (value === null || value === undefined || value === "" ? NaN : Number(value));
const f1 = (value) => (Number.isFinite(value) ? value.toFixed(1) : "");

// A round axis bound at or above `value`.
function niceCeil(value) {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  return [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].map((m) => m * magnitude).find((v) => v >= value);
}

// History as [time ms, number] points; `history/history_during_period` sends compressed states.
function parseHistory(entries) {
  const points = [];
  for (const entry of entries || []) {
    const time = (entry.lu ?? entry.lc) * 1000;
    const value = num(entry.s);
    if (Number.isFinite(time) && Number.isFinite(value)) points.push([time, value]);
  }
  return points;
}

// Hourly long-term statistics as [time ms, mean] points, at the middle of each hour.
function parseStatistics(rows) {
  return (rows || [])
    .map((row) => [(typeof row.start === "number" ? row.start : Date.parse(row.start)) + 1800000, num(row.mean)])
    .filter(([time, mean]) => Number.isFinite(time) && Number.isFinite(mean));
}

// Statistics fill in before the first recorded state (purged or excluded from the recorder).
const joinHistory = (statistics, states) =>
  states.length ? [...statistics.filter(([time]) => time < states[0][0]), ...states] : statistics;

class HomeBatteryPlanCard extends HTMLElement {
  static getStubConfig(hass) {
    const schedule = Object.keys(hass.states).find(
      (id) => id.startsWith("sensor.") && id.endsWith("_schedule") && hass.states[id].attributes.slots,
    );
    return { entity: schedule || "sensor.home_battery_schedule" };
  }

  setConfig(config) {
    if (!config || typeof config.entity !== "string" || !config.entity.startsWith("sensor.")) {
      throw new Error("Set `entity` to the battery's schedule sensor (sensor.<battery>_schedule).");
    }
    const base = config.entity.replace(/_schedule$/, "");
    this._config = {
      hours_to_show: 12,
      power_entity: `${base}_battery_power`,
      state_of_charge_entity: `${base}_state_of_charge`,
      ...config,
    };
    this._history = null;
    this._historyAt = 0;
    this._watched = [];
    this._pastSlots = this._loadPastSlots();
    if (!this.shadowRoot) this._build();
    this._schedule();
  }

  set hass(hass) {
    this._hass = hass;
    if (!this._config) return;
    const ids = [this._config.entity, this._config.power_entity, this._config.state_of_charge_entity];
    const watched = ids.map((id) => hass.states[id]);
    if (watched.some((state, i) => state !== this._watched[i])) {
      this._watched = watched;
      // Between history fetches the live states extend the actual lines.
      this._appendLive("power", watched[1]);
      this._appendLive("soc", watched[2]);
      this._schedule();
    }
    if (Date.now() - this._historyAt > HISTORY_REFRESH_MS) this._fetchHistory();
  }

  _appendLive(key, state) {
    const points = this._history && this._history[key];
    const time = state && Date.parse(state.last_updated);
    const value = state && num(state.state);
    if (!points || !Number.isFinite(time) || !Number.isFinite(value)) return;
    if (!points.length || time > points[points.length - 1][0]) points.push([time, value]);
  }

  getCardSize() {
    return 7;
  }

  getGridOptions() {
    return { columns: 12, min_columns: 6 };
  }

  connectedCallback() {
    this._resize = this._resize || new ResizeObserver(() => this._schedule());
    this._resize.observe(this);
  }

  disconnectedCallback() {
    if (this._resize) this._resize.disconnect();
  }

  _build() {
    const root = this.attachShadow({ mode: "open" });
    root.innerHTML = `
      <style>
        :host { display: block; }
        ha-card { padding: 0 16px 12px; }
        .header { display: flex; justify-content: space-between; align-items: baseline;
          gap: 8px; flex-wrap: wrap; padding: 12px 0 4px; }
        .title { font-size: 1.2em; color: var(--ha-card-header-color, var(--primary-text-color)); }
        .summary, .legend, .message { color: ${COLORS.text}; font-size: 0.85em; }
        .savings { color: var(--success-color, #43a047); font-weight: 500; }
        .warning { color: var(--warning-color, #ffa600); font-weight: 500; }
        svg { display: block; width: 100%; height: ${SVG_HEIGHT}px; overflow: visible; }
        svg text { fill: ${COLORS.text}; font-size: 10px; font-family: inherit; }
        .legend { display: flex; flex-wrap: wrap; gap: 4px 14px; padding-top: 6px; }
        .legend span::before { content: ""; display: inline-block; width: 12px; height: 3px;
          margin-right: 5px; vertical-align: middle; background: var(--swatch); }
        .message { padding: 8px 0; }
      </style>
      <ha-card>
        <div class="header"><span class="title"></span><span class="summary"></span></div>
        <div class="message" hidden></div>
        <div class="chart"></div>
        <div class="legend">
          <span style="--swatch:${COLORS.price}">Price</span>
          <span style="--swatch:${COLORS.discharge}">Planned discharge</span>
          <span style="--swatch:${COLORS.charge}">Planned charge</span>
          <span style="--swatch:${COLORS.actual}">Actual power</span>
          <span style="--swatch:repeating-linear-gradient(90deg,${COLORS.soc} 0 4px,transparent 4px 6px)">Planned state of charge</span>
          <span style="--swatch:${COLORS.soc}">Actual state of charge</span>
        </div>
      </ha-card>`;
  }

  // Render at most once per frame however many states change.
  _schedule() {
    if (this._frame) return;
    this._frame = requestAnimationFrame(() => {
      this._frame = null;
      this._render();
    });
  }

  async _fetchHistory() {
    if (!this._hass || this._fetching) return;
    this._fetching = true;
    this._historyAt = Date.now();
    const { power_entity: power, state_of_charge_entity: soc, hours_to_show: hours } = this._config;
    const ids = [power, soc].filter((id) => this._hass.states[id]);
    const start = new Date(Date.now() - hours * 3600 * 1000).toISOString();
    try {
      const [states, statistics] = ids.length
        ? await Promise.all([
            this._hass.callWS({
              type: "history/history_during_period",
              start_time: start,
              entity_ids: ids,
              minimal_response: true,
              no_attributes: true,
              significant_changes_only: false,
            }),
            // Optional: without statistics the lines start where the history does.
            this._hass
              .callWS({
                type: "recorder/statistics_during_period",
                start_time: start,
                statistic_ids: ids,
                period: "hour",
                types: ["mean"],
              })
              .catch(() => ({})),
          ])
        : [{}, {}];
      this._history = {
        power: joinHistory(parseStatistics(statistics[power]), parseHistory(states[power])),
        soc: joinHistory(parseStatistics(statistics[soc]), parseHistory(states[soc])),
      };
      this._historyError = null;
    } catch (err) {
      this._history = { power: [], soc: [] };
      this._historyError = (err && err.message) || String(err);
    } finally {
      this._fetching = false;
      this._schedule();
    }
  }

  // Slots that have begun are remembered (in this browser), so the plan stays visible under the
  // actual power after the sensor has moved on to a new plan.
  _storageKey() {
    return `${CARD}:${this._config.entity}`;
  }

  _loadPastSlots() {
    try {
      return JSON.parse(localStorage.getItem(this._storageKey())) || {};
    } catch (_err) {
      return {};
    }
  }

  _mergeSlots(slots, now) {
    const past = this._pastSlots;
    let changed = false;
    for (const slot of slots) {
      const start = Date.parse(slot.start);
      if (start <= now && JSON.stringify(past[slot.start]) !== JSON.stringify(slot)) {
        past[slot.start] = slot;
        changed = true;
      }
    }
    for (const start of Object.keys(past)) {
      if (Date.parse(start) < now - PAST_PLAN_KEEP_MS) {
        delete past[start];
        changed = true;
      }
    }
    if (changed) {
      try {
        localStorage.setItem(this._storageKey(), JSON.stringify(past));
      } catch (_err) {
        // Storage full or disabled: the card then shows only the current plan.
      }
    }
    const byStart = new Map(Object.entries(past));
    for (const slot of slots) byStart.set(slot.start, slot);
    return [...byStart.values()]
      .map((slot) => ({
        ...slot,
        t0: Date.parse(slot.start),
        t1: Date.parse(slot.end),
        power: num(slot.power),
        soc: num(slot.state_of_charge),
        buy: num(slot.buy_price),
        sell: num(slot.sell_price),
      }))
      .filter((slot) => Number.isFinite(slot.t0) && slot.t1 > slot.t0)
      .sort((a, b) => a.t0 - b.t0);
  }

  _render() {
    const hass = this._hass;
    const root = this.shadowRoot;
    if (!hass || !root || !this._config) return;
    const config = this._config;
    const state = hass.states[config.entity];
    const $ = (selector) => root.querySelector(selector);
    $(".title").textContent =
      config.title || (state && state.attributes.friendly_name) || "Battery plan";
    const message = $(".message");
    if (!state) {
      message.hidden = false;
      message.textContent = `Entity not found: ${config.entity}`;
      $(".chart").innerHTML = "";
      return;
    }
    const started = performance.now();
    const now = Date.now();
    const attributes = state.attributes;
    const slots = this._mergeSlots(Array.isArray(attributes.slots) ? attributes.slots : [], now);
    message.hidden = slots.length > 0;
    message.textContent = attributes.error ? `No plan: ${attributes.error}` : "No plan yet.";
    $(".summary").innerHTML = this._summary(attributes);
    const width = Math.max(this.clientWidth - 32, 280);
    $(".chart").innerHTML = this._svg(slots, now, width);
    const svg = $("svg");
    svg.dataset.slots = String(slots.length);
    svg.dataset.actualPoints = String(this._history ? this._history.power.length : 0);
    svg.dataset.renderMs = (performance.now() - started).toFixed(1);
    // The first complete drawing (plan and history) is timed for the browser test.
    if (this._history && !this.hasAttribute("data-drawn")) {
      this.setAttribute("data-drawn", performance.now().toFixed(0));
    }
  }

  _summary(attributes) {
    const hass = this._hass;
    const language = (hass.locale && hass.locale.language) || hass.language || "en";
    const currency = hass.config && hass.config.currency;
    const money = (value) => {
      if (!Number.isFinite(num(value))) return "";
      return currency
        ? new Intl.NumberFormat(language, { style: "currency", currency }).format(num(value))
        : num(value).toFixed(2);
    };
    const parts = [];
    if (Number.isFinite(num(attributes.savings))) {
      parts.push(`<span class="savings">Saves ${esc(money(attributes.savings))}</span>`);
    }
    if (Number.isFinite(num(attributes.cost))) parts.push(`cost ${esc(money(attributes.cost))}`);
    if (Number.isFinite(num(attributes.baseline_cost))) {
      parts.push(`without battery ${esc(money(attributes.baseline_cost))}`);
    }
    // A plan the solver could not prove optimal in its time budget is still followed: say so.
    if (attributes.status && attributes.status !== "optimal") {
      parts.push(`<span class="warning">not proven optimal (${esc(attributes.status)})</span>`);
    }
    if (attributes.updated) {
      const updated = new Date(attributes.updated);
      if (!Number.isNaN(updated.getTime())) {
        parts.push(`planned ${esc(updated.toLocaleTimeString(language, { hour: "2-digit", minute: "2-digit" }))}`);
      }
    }
    return parts.join(" · ");
  }

  _svg(slots, now, width) {
    const config = this._config;
    const hass = this._hass;
    const history = this._history || { power: [], soc: [] };
    const livePower = hass.states[config.power_entity];
    const liveSoc = hass.states[config.state_of_charge_entity];
    const actual = [...history.power];
    const actualSoc = [...history.soc];
    if (livePower && Number.isFinite(num(livePower.state))) actual.push([now, num(livePower.state)]);
    if (liveSoc && Number.isFinite(num(liveSoc.state))) actualSoc.push([now, num(liveSoc.state)]);

    // Time window: the past hours of actual power, then the whole plan ahead.
    const t0 = now - config.hours_to_show * 3600 * 1000;
    const lastEnd = slots.length ? slots[slots.length - 1].t1 : now;
    const t1 = Math.max(lastEnd, now + 3600 * 1000);
    const shown = slots.filter((slot) => slot.t1 > t0 && slot.t0 < t1);
    const plotWidth = width - PAD.left - PAD.right;
    const x = (t) => PAD.left + ((Math.min(Math.max(t, t0), t1) - t0) / (t1 - t0)) * plotWidth;

    // Price panel.
    const prices = shown.flatMap((slot) => [slot.buy, slot.sell]).filter(Number.isFinite);
    const priceLow = Math.min(0, ...prices);
    const priceHigh = prices.length ? Math.max(...prices) : 1;
    const priceSpan = priceHigh - priceLow || 1;
    const priceTop = PAD.top;
    const py = (p) => priceTop + PRICE_HEIGHT - ((p - priceLow) / priceSpan) * PRICE_HEIGHT;

    // Power panel: symmetric around zero, + discharge up.
    const powerTop = priceTop + PRICE_HEIGHT + PANEL_GAP;
    const powerHeight = SVG_HEIGHT - powerTop - PAD.bottom;
    const powers = [
      ...shown.map((slot) => slot.power),
      ...actual.filter(([t]) => t >= t0).map(([, p]) => p),
    ].filter(Number.isFinite);
    const powerMax = niceCeil(Math.max(100, ...powers.map(Math.abs)));
    const zero = powerTop + powerHeight / 2;
    const wy = (w) => zero - (w / powerMax) * (powerHeight / 2);
    const sy = (soc) => powerTop + powerHeight - (soc / 100) * powerHeight;

    const out = [`<svg viewBox="0 0 ${width} ${SVG_HEIGHT}" role="img" aria-label="Battery plan">`];
    const text = (tx, ty, anchor, label) =>
      out.push(`<text x="${f1(tx)}" y="${f1(ty)}" text-anchor="${anchor}">${esc(label)}</text>`);
    const hline = (yy) =>
      out.push(`<path d="M${PAD.left} ${f1(yy)}H${width - PAD.right}" stroke="${COLORS.grid}"/>`);

    // Axes and grid.
    const currency = (hass.config && hass.config.currency) || "";
    for (const p of [priceLow, priceHigh]) {
      hline(py(p));
      text(PAD.left - 4, py(p) + 3, "end", p.toFixed(2));
    }
    text(PAD.left - 4, priceTop + PRICE_HEIGHT / 2 + 3, "end", `${currency}/kWh`);
    for (const w of [powerMax, 0, -powerMax]) {
      hline(wy(w));
      text(PAD.left - 4, wy(w) + 3, "end", `${w > 0 ? "+" : ""}${w} W`);
    }
    for (const soc of [0, 50, 100]) text(width - PAD.right + 4, sy(soc) + 3, "start", `${soc} %`);
    const language = (hass.locale && hass.locale.language) || "en";
    // One formatter each: creating them per label would cost more than the whole drawing.
    const clock = new Intl.DateTimeFormat(language, { hour: "2-digit", minute: "2-digit" });
    const hour = new Intl.DateTimeFormat(language, { hour: "numeric" });
    const weekday = new Intl.DateTimeFormat(language, { weekday: "short" });
    const pxPerHour = plotWidth / ((t1 - t0) / 3600000);
    const step = [1, 2, 3, 4, 6, 12, 24].find((h) => h * pxPerHour >= 48) || 24;
    const first = new Date(t0);
    first.setMinutes(0, 0, 0);
    for (let t = first.getTime() + 3600000; t < t1; t += 3600000) {
      const date = new Date(t);
      if (date.getHours() % step !== 0) continue;
      const label =
        date.getHours() === 0
          ? weekday.format(date)
          : hour.format(date);
      out.push(`<path d="M${f1(x(t))} ${priceTop}V${powerTop + powerHeight}" stroke="${COLORS.grid}" stroke-dasharray="2 3"/>`);
      text(x(t), SVG_HEIGHT - 6, "middle", label);
    }

    // Planned power: one bar per slot, translucent so the actual line reads over it.
    const timeOf = (t) => clock.format(t);
    for (const slot of shown) {
      if (!Number.isFinite(slot.power)) continue;
      const left = x(slot.t0);
      const barWidth = Math.max(x(slot.t1) - left - 0.5, 0.5);
      const top = Math.min(wy(slot.power), zero);
      const height = Math.max(Math.abs(wy(slot.power) - zero), 0.5);
      const color = slot.power >= 0 ? COLORS.discharge : COLORS.charge;
      const tip = `${timeOf(slot.t0)}–${timeOf(slot.t1)}: plan ${Math.round(slot.power)} W, ${f1(slot.soc)} %, ${slot.buy} ${currency}/kWh`;
      out.push(
        `<rect class="plan" x="${f1(left)}" y="${f1(top)}" width="${f1(barWidth)}" height="${f1(height)}" fill="${color}" fill-opacity="0.6"><title>${esc(tip)}</title></rect>`,
      );
    }

    // Lines: price (step), planned state of charge (dashed), actual state of charge and power.
    const stepPath = (key) => {
      let d = "";
      for (const slot of shown) {
        if (!Number.isFinite(slot[key])) continue;
        d += `${d ? "L" : "M"}${f1(x(slot.t0))} ${f1(py(slot[key]))}H${f1(x(slot.t1))}`;
      }
      return d;
    };
    const linePath = (points, y) =>
      points
        .filter(([t, v]) => t >= t0 && Number.isFinite(v))
        .map(([t, v], i) => `${i ? "L" : "M"}${f1(x(t))} ${f1(y(v))}`)
        .join("");
    // Power and state of charge hold their value until the next change: draw them as steps.
    const holdPoints = (points) =>
      points.flatMap(([t, v], i) => (i ? [[t, points[i - 1][1]], [t, v]] : [[Math.max(t, t0), v]]));
    const path = (d, cls, color, extra = "") =>
      d && out.push(`<path class="${cls}" d="${d}" fill="none" stroke="${color}" ${extra}/>`);

    path(stepPath("buy"), "price", COLORS.price, 'stroke-width="2"');
    const sellDiffers = shown.some((slot) => Number.isFinite(slot.sell) && slot.sell !== slot.buy);
    if (sellDiffers) path(stepPath("sell"), "sell-price", COLORS.price, 'stroke-dasharray="3 3"');
    const socPlan = shown.filter((slot) => Number.isFinite(slot.soc)).map((slot) => [slot.t1, slot.soc]);
    path(linePath(socPlan, sy), "plan-soc", COLORS.soc, 'stroke-width="1.5" stroke-dasharray="5 3"');
    path(linePath(holdPoints(actualSoc), sy), "actual-soc", COLORS.soc, 'stroke-width="1.5"');
    path(linePath(holdPoints(actual), wy), "actual-power", COLORS.actual, 'stroke-width="1.5"');

    // Now.
    out.push(`<path d="M${f1(x(now))} ${priceTop}V${powerTop + powerHeight}" stroke="${COLORS.text}" stroke-dasharray="4 2"/>`);
    text(x(now) + 3, powerTop - 3, "start", "now");
    if (this._historyError) text(PAD.left + 4, powerTop + 12, "start", `history: ${this._historyError}`);
    out.push("</svg>");
    return out.join("");
  }
}

// Home Assistant's frontend replaces window.customElements with a scoped registry while it
// boots; a module loaded through add_extra_js_url can run before that and its definition is then
// lost (home-assistant/frontend#53890). So define the card in whichever registry is current, and
// again, for a while, whenever the registry object changes.
function register() {
  const registry = window.customElements;
  if (registry.get(CARD)) return registry;
  try {
    // A fresh subclass: one constructor cannot be defined in two registries.
    registry.define(CARD, class extends HomeBatteryPlanCard {});
  } catch (err) {
    console.warn(`${CARD}: not registered`, err);
  }
  return registry;
}

let registry = register();
const watchUntil = Date.now() + 30000;
const watch = setInterval(() => {
  if (window.customElements !== registry) registry = register();
  if (Date.now() > watchUntil) clearInterval(watch);
}, 100);

window.customCards = window.customCards || [];
if (!window.customCards.some((card) => card.type === CARD)) {
  window.customCards.push({
    type: CARD,
    name: "Home Battery plan",
    description: "Prices, the planned battery power and state of charge, and the actual power.",
    documentationURL: "https://github.com/home-battery/home_battery#dashboards",
  });
}
