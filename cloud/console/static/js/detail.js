/** The alarm detail page: its fields, history (engine events and audit trail), recent values, actions. */

import { actionButtons, actionByKey, runAction } from "./actions.js";
import { alarmDetail } from "./api.js";
import { $, el, fill, svg, typing } from "./dom.js";
import {
  CATEGORIES,
  EVENTS,
  PRIORITIES,
  STATES,
  conditionWords,
  formatAge,
  formatTime,
  formatValue,
  label,
  stateWords,
} from "./labels.js";
import { COMMON_KEYS, startShell } from "./shell.js";

const KEYS = [["b / Backspace", "返回报警列表 Back to the alarm list"], ...COMMON_KEYS];
const alarmId = Number.parseInt(location.pathname.split("/").pop(), 10);
const listUrl = sessionStorage.getItem("sitewatch.list") || "/";
const { live, alert } = startShell({ keys: KEYS });
let alarm = null;
let refetchTimer = null;

$("#back").href = listUrl;

function field(name, value) {
  if (value === null || value === undefined || value === "") return null;
  return [el("dt", {}, name), el("dd", {}, value)];
}

function renderAlarm() {
  const a = alarm;
  document.title = `${a.text} — Sitewatch`;
  alert.render(); // puts back the fire prefix on the title if one sounds
  const card = $("#alarm");
  card.className = `alarm-detail cat-${a.category} state-${a.state}`;
  Object.assign(card.dataset, { state: a.state, category: a.category, active: String(a.active) });
  fill(
    $("#alarm-title"),
    el("span", { class: `badge cat-${a.category}` }, label(CATEGORIES, a.category)),
    " ",
    el("span", { class: "alarm-text" }, a.text),
  );
  fill(
    $("#alarm-fields"),
    field("状态 State", el("span", { class: "state-words", dataset: { state: a.state } }, stateWords(a))),
    field("条件 Condition", `${conditionWords(a)} (${a.condition})`),
    field("优先级 Priority", label(PRIORITIES, a.priority)),
    field("当前值 Value", formatValue(a.value)),
    field("设备 Device", a.device_name ? `${a.device_name} (${a.device})` : a.device),
    field("位置 Area", a.area),
    field("站点/节点/点位 Site / node / point", `${a.site} / ${a.node} / ${a.point}`),
    field("报警时间 Raised", a.raised_at && `${formatTime(a.raised_at)} (${formatAge(a.raised_at)})`),
    field("恢复时间 Cleared", a.cleared_at && formatTime(a.cleared_at)),
    field("确认 Acknowledged", a.acked_by && `${a.acked_by} · ${formatTime(a.acked_at)}`),
    a.state === "shelved"
      ? field("搁置 Shelved", `${a.shelved_by ?? ""} · 至 until ${formatTime(a.shelved_until)} · ${a.shelve_reason ?? ""}`)
      : null,
    field("停用 Out of service", a.out_of_service && `${a.out_of_service.by} · ${formatTime(a.out_of_service.at)} · ${a.out_of_service.reason}`),
    field("最近备注 Last comment", a.last_comment && `${a.last_comment.by} · ${formatTime(a.last_comment.at)} · ${a.last_comment.note}`),
    field("最后变更 Changed", formatTime(a.changed_at)),
  );
  fill($("#detail-actions"), actionButtons(a, changed));
}

function renderHistory(history) {
  const entries = [...history].sort((x, y) => Date.parse(y.at) - Date.parse(x.at));
  fill(
    $("#history tbody"),
    entries.length
      ? entries.map((h) =>
          el(
            "tr",
            { dataset: { event: h.event } },
            el("td", { class: "time" }, formatTime(h.at)),
            el("td", { class: "event" }, label(EVENTS, h.event)),
            el("td", {}, h.state ? label(STATES, h.state) : ""),
            el("td", {}, formatValue(h.value)),
            el("td", { class: "by" }, h.by ?? ""),
            el("td", { class: "note" }, h.note ?? ""),
          ),
        )
      : el("tr", {}, el("td", { colspan: 6, class: "muted" }, "无记录 No history")),
  );
}

const tsOf = (v) => (typeof v.ts === "number" ? v.ts : Date.parse(v.ts));

/** A tiny sparkline of numeric (or on/off) values, oldest to newest. */
function sparkline(values) {
  const points = values
    .map((v) => ({ t: tsOf(v), y: typeof v.value === "boolean" ? Number(v.value) : v.value }))
    .filter((p) => typeof p.y === "number" && Number.isFinite(p.y) && Number.isFinite(p.t))
    .sort((p, q) => p.t - q.t);
  if (points.length < 2) return null;
  const [w, h, pad] = [320, 60, 4];
  const t0 = points[0].t;
  const t1 = points.at(-1).t || t0 + 1;
  const ys = points.map((p) => p.y);
  const [lo, hi] = [Math.min(...ys), Math.max(...ys)];
  const x = (t) => pad + ((t - t0) / Math.max(1, t1 - t0)) * (w - 2 * pad);
  const y = (v) => h - pad - ((v - lo) / (hi - lo || 1)) * (h - 2 * pad);
  const line = points.map((p) => `${x(p.t).toFixed(1)},${y(p.y).toFixed(1)}`).join(" ");
  return svg(
    "svg",
    { class: "sparkline", viewBox: `0 0 ${w} ${h}`, width: w, height: h, role: "img", "aria-label": `${lo} – ${hi}` },
    svg("title", {}, `最小 min ${lo} · 最大 max ${hi}`),
    svg("polyline", { points: line, fill: "none", stroke: "currentColor", "stroke-width": 1.5 }),
  );
}

function renderValues(values) {
  fill($("#sparkline"), sparkline(values));
  const newest = [...values].sort((p, q) => tsOf(q) - tsOf(p)).slice(0, 50);
  fill(
    $("#values tbody"),
    newest.length
      ? newest.map((v) =>
          el(
            "tr",
            { class: v.quality === "good" ? "" : "bad-quality", dataset: { quality: v.quality ?? "" } },
            el("td", { class: "time" }, formatTime(v.ts)),
            el("td", {}, formatValue(v.value)),
            el("td", {}, v.quality ?? ""),
          ),
        )
      : el("tr", {}, el("td", { colspan: 3, class: "muted" }, "无数据 No values")),
  );
}

async function load() {
  try {
    const detail = await alarmDetail(alarmId);
    alarm = detail.alarm;
    $("#missing").hidden = true;
    renderAlarm();
    renderHistory(detail.history);
    renderValues(detail.recent_values);
  } catch (error) {
    fill($("#missing"), error.status === 404 ? "报警不存在 No such alarm" : `加载失败 Could not load: ${error.message}`);
    $("#missing").hidden = false;
  }
}

/** After a change, the history has a new entry: fetch it (once for a burst of changes). */
function refetchSoon() {
  clearTimeout(refetchTimer);
  refetchTimer = setTimeout(load, 150);
}

function changed(updated) {
  live.apply(updated);
  alarm = updated;
  renderAlarm();
  refetchSoon();
}

live.addEventListener("change", (event) => {
  const updated = event.detail.alarm;
  if (event.detail.snapshot) refetchSoon();
  else if (updated?.id === alarmId && (!alarm || Date.parse(updated.changed_at) >= Date.parse(alarm.changed_at))) {
    alarm = updated;
    renderAlarm();
    refetchSoon();
  }
});

document.addEventListener("keydown", (event) => {
  if (typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === "b" || event.key === "Backspace") location.assign(listUrl);
  else if (actionByKey(event.key) && alarm) runAction(actionByKey(event.key), alarm, changed);
  else return;
  event.preventDefault();
});

load();
