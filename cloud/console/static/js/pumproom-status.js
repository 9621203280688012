/**
 * 当前状态 Current status: every device of the room as its points read now, grouped by what it is
 * (pump, valve, pressure, tank, leak sensor); anything abnormal, stale or unread stands out.
 */

import { el, fillWhenChanged } from "./dom.js";
import { mpa, word, CAUSES } from "./pumproom-labels.js";

const value = (points, name) => points[name]?.value;
const has = (points, name) => Object.hasOwn(points, name);

/** One fact: its words and whether it is fine (true), wrong (false) or unknown (null). */
const fact = (label, text, ok) =>
  el("div", { class: "fact", dataset: { ok: ok === null ? "unknown" : String(ok) } }, el("span", { class: "label" }, label), " ", el("strong", {}, text));

/** A yes/no point: `good` is the fine answer (null when neither is wrong, like running). */
function onOff(points, name, label, [yes, no], good) {
  const reading = value(points, name);
  if (reading === null || reading === undefined) return fact(label, "未读到 not read", null);
  const on = Boolean(reading);
  return fact(label, on ? yes : no, good === null ? true : on === good);
}

const ALERTS = [
  ["fault", "故障 Fault"],
  ["failed_to_start", "启动失败 Failed to start"],
  ["phase_failure", "缺相 Phase failure"],
  ["crank_failure", "盘车失败 Crank failure"],
];
const READINGS = [
  ["battery1_v", "电池1 Battery 1", "V"],
  ["battery2_v", "电池2 Battery 2", "V"],
  ["fuel_level", "燃油 Fuel", "%"],
];

function pumpFacts(points) {
  const facts = [
    onOff(points, "running", "运行 Run", ["运行 RUNNING", "停止 Stopped"], null),
    onOff(points, "in_auto", "控制 Mode", ["自动 AUTO", "手动 MANUAL"], true),
  ];
  if (has(points, "power_available")) facts.push(onOff(points, "power_available", "电源 Power", ["有电 Available", "失电 LOST"], true));
  if (has(points, "start_cause")) facts.push(fact("启动原因 Start cause", word(CAUSES, value(points, "start_cause")), true));
  for (const [name, label] of ALERTS) if (value(points, name)) facts.push(fact(label, "是 YES", false));
  for (const [name, label, unit] of READINGS) {
    if (has(points, name)) facts.push(fact(label, `${value(points, name) ?? "—"} ${unit}`, null));
  }
  return facts;
}

/** A supervised valve's normal position is open (valve_open: true), the site file's default. */
function valveFacts(points) {
  const open = value(points, "valve_open");
  if (open === null || open === undefined) return [fact("阀门 Valve", "未读到 not read", null)];
  return [fact("阀门 Valve", open ? "开 Open (正常 normal)" : "关 Closed — 非正常位置 OFF NORMAL", Boolean(open))];
}

function pressureFacts(points, low) {
  const reading = value(points, "pressure");
  const ok = reading === null || reading === undefined || low === undefined ? null : reading >= low;
  const limit = low === undefined ? "" : ` (低限 low ${low} MPa)`;
  return [fact("压力 Pressure", `${mpa(reading)}${limit}`, ok)];
}

function tankFacts(points) {
  const facts = [fact("液位 Level", `${value(points, "level") ?? "—"} m`, null)];
  if (has(points, "low_float")) facts.push(fact("低液位 Low float", value(points, "low_float") ? "报警 LOW" : "正常 normal", !value(points, "low_float")));
  return facts;
}

function leakFacts(points) {
  const zones = Object.keys(points).filter((p) => p.startsWith("zone")).sort();
  const wet = zones.filter((z) => value(points, z));
  const facts = [fact("漏水 Leak zones", wet.length ? `有水 WATER: ${wet.join(", ")}` : `干 dry (${zones.length})`, wet.length === 0)];
  if (value(points, "cable_fault")) facts.push(fact("线缆 Cable", "故障 FAULT", false));
  return facts;
}

function kindOf(points) {
  if (has(points, "running") && has(points, "in_auto")) return "pump";
  if (has(points, "valve_open")) return "valve";
  if (has(points, "pressure")) return "pressure";
  if (has(points, "level")) return "tank";
  if (Object.keys(points).some((p) => p.startsWith("zone"))) return "leak";
  return "other";
}

function factsOf(kind, points, lows) {
  if (kind === "pump") return pumpFacts(points);
  if (kind === "valve") return valveFacts(points);
  if (kind === "pressure") return pressureFacts(points, lows);
  if (kind === "tank") return tankFacts(points);
  if (kind === "leak") return leakFacts(points);
  return Object.entries(points).map(([name, p]) => fact(name, String(p.value), null));
}

function deviceCard(device, lows) {
  const points = device.points;
  const kind = kindOf(points);
  const unread = Object.keys(points).length === 0;
  const bad = Object.entries(points).filter(([, p]) => p.quality !== "good").map(([name, p]) => `${name}: ${p.quality}`);
  return el(
    "article",
    { class: "device", dataset: { device: device.id, kind } },
    el("h3", {}, device.name, el("span", { class: "sub" }, ` ${device.id}`)),
    unread ? fact("数据 Data", "从未收到 never heard", false) : factsOf(kind, points, lows[device.id]),
    bad.length ? el("p", { class: "quality" }, `数据质量 Quality: ${bad.join(", ")}`) : null,
  );
}

/** `lows`: supply-line low limits by device, from the week's report (the room list has none). */
export function renderStatus(container, room, lows = {}) {
  fillWhenChanged(container, [room.devices, lows], () => room.devices.map((device) => deviceCard(device, lows)));
}
