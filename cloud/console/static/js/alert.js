/**
 * The audible fire alert: an unacknowledged fire alarm sounds (Web Audio, repeating) until it is
 * acknowledged. Mute silences the alarms sounding now; a later fire alarm sounds again. The
 * banner shows the same state in the page (data-sounding), for eyes and for tests.
 */

import { el, fill } from "./dom.js";
import { deviceWords } from "./labels.js";
import { steady } from "./steady.js";

const PERIOD_MS = 1200;
const TITLE_PREFIX = "🔔 火警 FIRE — ";

export class FireAlert {
  constructor(banner) {
    this.banner = banner;
    this.alarms = new Map();
    this.context = null;
    this.muted = new Set();
    this.sounding = [];
    this.waiting = [];
    this.timer = null;
    this.renderedKey = "";
  }

  /** Create/resume the AudioContext; call from a user gesture (the sign-in, any key or click). */
  unlock() {
    try {
      if (!this.context) {
        this.context = new AudioContext();
        this.context.addEventListener("statechange", () => this.render());
      }
      if (this.context.state === "suspended") this.context.resume().then(() => this.render());
    } catch {
      // No audio device: the banner and the title still alert.
    }
    this.render();
  }

  /** Recompute from the live alarms: which fire alarms wait for acknowledgement, which sound. */
  update(alarms) {
    this.alarms = alarms;
    this.waiting = [...alarms.values()].filter(
      (a) => a.category === "fire" && a.state === "unacknowledged",
    );
    const waitingIds = new Set(this.waiting.map((a) => a.id));
    // A mute lasts while its alarm waits; if it is acknowledged and raised again it sounds again.
    for (const id of this.muted) if (!waitingIds.has(id)) this.muted.delete(id);
    this.sounding = this.waiting.filter((a) => !this.muted.has(a.id));
    if (this.sounding.length && this.timer === null) {
      this.beep();
      this.timer = setInterval(() => this.beep(), PERIOD_MS);
    } else if (!this.sounding.length && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
    this.render();
  }

  mute() {
    for (const alarm of this.sounding) this.muted.add(alarm.id);
    this.update(this.alarms);
  }

  /** Two alternating tones, like a fire panel's sounder. */
  beep() {
    const ctx = this.context;
    if (!ctx || ctx.state !== "running") return;
    const start = ctx.currentTime;
    [880, 660].forEach((frequency, i) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "square";
      osc.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, start + i * 0.3);
      gain.gain.exponentialRampToValueAtTime(0.15, start + i * 0.3 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + i * 0.3 + 0.28);
      osc.connect(gain).connect(ctx.destination);
      osc.start(start + i * 0.3);
      osc.stop(start + i * 0.3 + 0.3);
    });
  }

  /** A single soft chime for a new supervisory or trouble alarm (no repeat). */
  chime() {
    const ctx = this.context;
    if (!ctx || ctx.state !== "running") return;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = 520;
    gain.gain.setValueAtTime(0.08, ctx.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + 0.4);
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.4);
  }

  audioState() {
    if (!this.context) return "locked";
    return this.context.state === "running" ? "on" : "locked";
  }

  render() {
    // What moves nothing shows at once (the state, the tab's title); what changes the page's
    // layout waits while a pointer is pressed (steady.js).
    const banner = this.banner;
    const sounding = this.sounding.length > 0;
    banner.dataset.sounding = String(sounding);
    banner.dataset.muted = String(this.waiting.length > 0 && !sounding);
    banner.dataset.audio = this.audioState();
    // Flag the tab too (the page sets its own title; only the prefix is ours).
    const plain = document.title.replace(TITLE_PREFIX, "");
    document.title = sounding ? TITLE_PREFIX + plain : plain;
    steady("fire-banner", () => this.draw());
  }

  draw() {
    const sound = document.getElementById("sound");
    if (sound) {
      sound.dataset.audio = this.audioState();
      sound.textContent =
        this.audioState() === "on" ? "🔊 声音已启用 Sound on" : "🔇 声音未启用，点击启用 Sound off: click to enable";
    }
    const banner = this.banner;
    const sounding = this.sounding.length > 0;
    banner.hidden = !sounding && this.waiting.length === 0;
    // Rebuild only on a real change: a button replaced under the pointer would eat the click.
    const key = JSON.stringify([banner.hidden, sounding, this.audioState(), (sounding ? this.sounding : this.waiting).map((a) => [a.id, a.text, a.area])]);
    if (key === this.renderedKey) return;
    this.renderedKey = key;
    if (banner.hidden) return fill(banner);
    const list = (sounding ? this.sounding : this.waiting).map((a) =>
      el("li", { dataset: { alarmId: a.id } }, `${a.text} — ${deviceWords(a)}${a.area ? ` @ ${a.area}` : ""}`),
    );
    fill(
      banner,
      el(
        "div",
        { class: "fire-title" },
        sounding
          ? "🔔 火警报警声响中 FIRE ALARM sounding — 请确认 acknowledge"
          : "🔕 火警已静音，尚未确认 Fire alarm muted, not yet acknowledged",
      ),
      el("ul", { class: "fire-list" }, list),
      sounding
        ? el(
            "button",
            { type: "button", id: "mute", class: "mute", onclick: () => this.mute() },
            "静音 Mute (当前报警 this alarm) ",
            el("kbd", {}, "m"),
          )
        : null,
      sounding && this.audioState() !== "on"
        ? el(
            "button",
            { type: "button", class: "link", onclick: () => this.unlock() },
            "🔇 浏览器未允许声音，点击启用 Sound blocked by the browser: click to enable",
          )
        : null,
    );
  }
}
