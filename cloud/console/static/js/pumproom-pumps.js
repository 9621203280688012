/**
 * 消防泵 Each fire or sprinkler pump's week: AUTO share (and when it was in manual), power and
 * phase failures, every start with its cause and run time, the weekly test run's verdict with
 * its reasons, and a diesel's batteries, fuel and crank failures.
 */

import { el } from "./dom.js";
import { CAUSES, KINDS, ROLES, duration, mpa, pct, range, when, word } from "./pumproom-labels.js";
import { gapBadge, none, part, table } from "./pumproom-table.js";

function verdict(pump) {
  const test = pump.test_run;
  if (!test) {
    return el("div", { class: "verdict", dataset: { verdict: "missing" } }, el("strong", { class: "fail" }, "无自动周试验 No automatic weekly test run"));
  }
  const pressures = Object.entries(test.pressures).map(([side, p]) =>
    el("li", { class: p.ok ? "" : "fail" }, `${side === "discharge" ? "出口 Discharge" : "进口 Suction"}: ${mpa(p.min)} – ${mpa(p.max)} (允许 band ${mpa(p.low)} – ${mpa(p.high)})`),
  );
  return el(
    "div",
    { class: "verdict", dataset: { verdict: test.passed ? "passed" : "failed" } },
    el("strong", { class: test.passed ? "pass" : "fail" }, test.passed ? "合格 Passed" : "不合格 Failed"),
    ` · ${when(test.at)} · 运行 ran ${test.run_min} min (需 required ≥ ${test.required_min} min, NFPA 25) · 启动用时 reached running in ${test.start_s} s`,
    test.reasons.length ? el("ul", { class: "reasons" }, test.reasons.map((r) => el("li", {}, r))) : null,
    pressures.length ? el("ul", { class: "pressures" }, pressures) : null,
  );
}

function starts(pump) {
  if (!pump.starts.length) return none("本周无启动 No starts this week");
  return table(
    ["时间 At", "原因 Cause", "运行 Ran", "启动用时 Start time", ""],
    pump.starts.map((s) => ({
      attrs: { dataset: { cause: s.cause } },
      cells: [when(s.at), word(CAUSES, s.cause), duration(s.run_s), `${Math.round(s.start_s)} s`, s.stopped ? "" : "仍在运行 still running"],
    })),
    { class: "grid starts" },
  );
}

function diesel(info) {
  const volts = Object.entries(info.battery_min_v).map(([name, v]) => `${name}: ${v === null ? "无数据 no data" : `${v.toFixed(1)} V`}`);
  return el(
    "dl",
    { class: "fields diesel" },
    el("dt", {}, "电池最低 Battery minimum"),
    el("dd", {}, volts.join(" · ")),
    el("dt", {}, "燃油最低 Fuel minimum (≥ 2/3)"),
    el("dd", { class: info.fuel_min_pct !== null && info.fuel_min_pct < 200 / 3 ? "fail" : "" }, info.fuel_min_pct === null ? "无数据 no data" : `${info.fuel_min_pct.toFixed(0)} %`),
    el("dt", {}, "盘车失败 Crank failures"),
    el("dd", { class: info.crank_failures.length ? "fail" : "" }, info.crank_failures.length ? info.crank_failures.map(when).join(", ") : "0"),
  );
}

function pumpCard(pump, heard) {
  const facts = [el("dt", {}, "自动 In AUTO"), el("dd", { class: pump.auto_share === null || pump.auto_share < 1 ? "fail" : "" }, pct(pump.auto_share), pump.manual.length ? ` — 手动 manual: ${pump.manual.map(range).join("; ")}` : "")];
  if ("power_share" in pump) {
    facts.push(el("dt", {}, "电源 Power available"), el("dd", { class: pump.power_share === null || pump.power_share < 1 ? "fail" : "" }, pct(pump.power_share)));
    facts.push(el("dt", {}, "缺相 Phase failures"), el("dd", { class: pump.phase_failures.length ? "fail" : "" }, pump.phase_failures.length ? pump.phase_failures.map(when).join(", ") : "0"));
  }
  return el(
    "article",
    { class: "pump", dataset: { pump: pump.id } },
    el("h4", {}, pump.name, el("span", { class: "sub" }, ` ${word(KINDS, pump.kind)} · ${word(ROLES, pump.role)}`), " ", gapBadge(heard, pump.id)),
    el("dl", { class: "fields" }, facts),
    el("h5", {}, "周试验 Weekly test run"),
    verdict(pump),
    el("h5", {}, "启动 Starts"),
    starts(pump),
    pump.diesel ? [el("h5", {}, "柴油机 Diesel engine"), diesel(pump.diesel)] : null,
  );
}

export const renderPumps = (pumps, heard) => part("pumps", "消防泵 Fire and sprinkler pumps", pumps.length ? pumps.map((p) => pumpCard(p, heard)) : none());
