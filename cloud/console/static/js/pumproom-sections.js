/** The rest of the week: jockey starts per day, supply-line pressures, valves, leaks. */

import { el } from "./dom.js";
import { duration, mpa, range, when } from "./pumproom-labels.js";
import { gapBadge, none, part, table } from "./pumproom-table.js";

export function renderJockey(jockey, heard) {
  if (!jockey) return part("jockey", "稳压泵 Jockey pump", none("未配置 Not configured"));
  const rows = jockey.days.map((d) => ({
    attrs: { class: d.over ? "over" : "", dataset: { day: d.day, over: String(d.over) } },
    cells: [d.day, String(d.starts), d.over ? "超限，疑似跑冒滴漏 over the limit: probable leak" : "正常 within"],
  }));
  return part(
    "jockey",
    "稳压泵 Jockey pump",
    el("p", {}, `每日启动上限 Limit ${jockey.limit} starts a day (GB 50974 §14.0.4) `, gapBadge(heard, jockey.device)),
    rows.length ? table(["日期 Day", "启动 Starts", ""], rows) : none("本周尚无数据 No day yet"),
  );
}

export function renderSupply(lines, heard) {
  const rows = lines.map((s) => ({
    attrs: { class: s.below_s ? "over" : "", dataset: { device: s.device } },
    cells: [[s.device, " ", gapBadge(heard, s.device)], mpa(s.min), mpa(s.avg), mpa(s.max), `${s.low} MPa`, s.below_s === null ? "无数据 no data" : s.below_s > 0 ? duration(s.below_s) : "0"],
  }));
  return part("supply", "供水管网 Supply lines", rows.length ? table(["管线 Line", "最低 Min", "平均 Avg", "最高 Max", "低限 Low limit", "低于低限 Time below low"], rows) : none("未配置 Not configured"));
}

/** Nothing off normal only means something while the valve was heard. */
function normalWords(entry) {
  if (entry && entry.share === 0) return "无数据 No data: position unknown";
  if (entry?.gaps.length) return "收到数据期间在正常位置 Normal while heard; unknown during the gaps";
  return "一直在正常位置 In its normal position all week";
}

export function renderValves(valves, heard) {
  const rows = valves.map((v) => ({
    attrs: { class: v.off_normal.length ? "over" : "", dataset: { device: v.device } },
    cells: [[v.device, " ", gapBadge(heard, v.device)], v.off_normal.length ? v.off_normal.map(range).join("; ") : normalWords(heard.get(v.device))],
  }));
  return part("valves", "阀门 Valves", rows.length ? table(["阀门 Valve", "偏离正常位置 Off normal"], rows) : none("未配置 Not configured"));
}

export function renderLeaks(leaks, devices, heard) {
  const badges = devices.map((d) => gapBadge(heard, d)).filter(Boolean);
  const rows = leaks.map((l) => ({ attrs: { class: "over" }, cells: [l.device, l.zone, when(l.at)] }));
  return part("leaks", "漏水 Leaks", badges, rows.length ? table(["探测器 Sensor", "区域 Zone", "时间 At"], rows) : none("本周无漏水报警 No leak this week (as heard)"));
}
