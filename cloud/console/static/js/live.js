/**
 * The live picture: the Server-Sent Events stream kept as a map of open alarms plus the KPIs,
 * and the connection banner. Pages listen for "change"; nothing here polls.
 */

import { el, fill } from "./dom.js";
import { formatTime } from "./labels.js";

const STREAM = "/api/stream";
// EventSource retries network errors itself; these delays are for when it gives up (HTTP errors).
const RETRY_MS = [1000, 2000, 5000, 10000];
// The server sends a `ping` event every 15 s: silence for longer means a connection that died
// without closing (a dropped network path), which EventSource alone would never notice.
const SILENCE_MS = 40000;

export class Live extends EventTarget {
  constructor(banner) {
    super();
    this.banner = banner;
    this.alarms = new Map();
    this.kpis = [];
    this.state = "connecting";
    this.lostAt = null;
    this.failures = 0;
    this.source = null;
    this.reconnectedTimer = null;
    this.heardAt = Date.now();
    setInterval(() => this.checkSilence(), 5000);
  }

  heard() {
    this.heardAt = Date.now();
  }

  checkSilence() {
    if (!this.source || Date.now() - this.heardAt < SILENCE_MS) return;
    this.source.close();
    this.lostAt ??= new Date();
    this.show("disconnected");
    this.heard();
    this.connect();
  }

  start() {
    this.connect();
    this.show("connecting");
    return this;
  }

  connect() {
    const source = new EventSource(STREAM);
    this.source = source;
    for (const type of ["snapshot", "alarm", "kpis", "ping"]) {
      source.addEventListener(type, () => this.heard());
    }
    source.addEventListener("snapshot", (event) => this.onSnapshot(JSON.parse(event.data)));
    source.addEventListener("alarm", (event) => this.onAlarm(JSON.parse(event.data)));
    source.addEventListener("kpis", (event) => {
      this.kpis = JSON.parse(event.data);
      this.emit("kpis");
    });
    source.addEventListener("error", () => {
      if (source !== this.source) return;
      this.lostAt ??= new Date();
      this.show("disconnected");
      if (source.readyState === EventSource.CLOSED) {
        // The browser will not retry after an HTTP error: do it ourselves, backing off.
        const delay = RETRY_MS[Math.min(this.failures, RETRY_MS.length - 1)];
        this.failures += 1;
        setTimeout(() => {
          if (this.source === source) this.connect();
        }, delay);
      }
    });
  }

  onSnapshot(data) {
    // A snapshot replaces everything: after a gap in the stream the list could be stale.
    this.alarms = new Map(data.alarms.filter((a) => a.state !== "normal").map((a) => [a.id, a]));
    this.kpis = data.kpis ?? [];
    this.failures = 0;
    const wasLost = this.lostAt !== null;
    this.lostAt = null;
    this.show(wasLost ? "reconnected" : "live");
    this.emit("change", { snapshot: true });
    this.emit("kpis");
  }

  onAlarm(alarm) {
    this.apply(alarm);
  }

  /** Take a newer version of an alarm (from the stream or an action's answer). */
  apply(alarm) {
    const known = this.alarms.get(alarm.id);
    // An action's answer can arrive before the stream's older events: keep the newest.
    if (known && Date.parse(known.changed_at) > Date.parse(alarm.changed_at)) return;
    const previous = known ?? null;
    if (alarm.state === "normal") this.alarms.delete(alarm.id);
    else this.alarms.set(alarm.id, alarm);
    this.emit("change", { alarm, previous });
  }

  emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  show(state) {
    this.state = state;
    document.body.dataset.connection = state;
    if (!this.banner) return;
    clearTimeout(this.reconnectedTimer);
    this.banner.dataset.state = state;
    this.banner.hidden = false;
    if (state === "disconnected") {
      fill(
        this.banner,
        el("strong", {}, "连接中断 Disconnected — reconnecting…"),
        " ",
        el("span", {}, `自 since ${formatTime(this.lostAt, { date: false })}；列表可能已过时 the list may be out of date`),
      );
    } else if (state === "reconnected") {
      fill(this.banner, el("strong", {}, "已重新连接 Reconnected"), " — 列表已刷新 list reloaded");
      this.reconnectedTimer = setTimeout(() => this.show("live"), 5000);
    } else if (state === "connecting") {
      fill(this.banner, "连接中 Connecting…");
    } else {
      fill(this.banner, el("span", { class: "dot" }), "实时 Live");
    }
  }
}
