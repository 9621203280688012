/** Bilingual words and number formats for the pump-room pages. */

import { formatTime } from "./labels.js";

export const SEVERITY = { high: "高 High", medium: "中 Medium", low: "低 Low" };

export const FINDINGS = {
  not_in_auto: "未处于自动 Not in AUTO",
  power_lost: "失电 Power lost",
  phase_failure: "缺相 Phase failure",
  test_run_missing: "无周试验 No weekly test run",
  test_run_failed: "周试验不合格 Weekly test run failed",
  test_minimum_lowered: "试验时长下调 Test minimum lowered",
  battery_low: "电池电压低 Battery low",
  fuel_low: "燃油不足 Fuel low",
  crank_failure: "盘车失败 Crank failure",
  jockey_over_limit: "稳压泵频繁启动 Jockey over the limit (跑冒滴漏)",
  pressure_low: "管网压力低 Pressure below the low limit",
  valve_off_normal: "阀门不在正常位置 Valve off normal",
  leak: "漏水 Leak",
  data_gap: "数据缺失 Data gap",
};

export const CAUSES = {
  none: "无 none",
  demand: "需求 demand",
  test: "试验 test",
  manual: "手动 manual",
  unknown: "未知 unknown",
};

export const KINDS = { electric: "电动 electric", diesel: "柴油 diesel" };
export const ROLES = { fire: "消防泵 fire pump", sprinkler: "喷淋泵 sprinkler pump" };

export const word = (table, key) => table[key] ?? String(key ?? "—");

/** A share of the week; null (nothing to judge it by) says so instead of looking fine. */
export const pct = (share) => (share === null || share === undefined ? "无数据 no data" : `${(share * 100).toFixed(1)}%`);

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "无数据 no data";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

export const mpa = (value) => (value === null || value === undefined ? "无数据 no data" : `${Number(value).toFixed(3)} MPa`);

export const when = (value) => formatTime(value).slice(0, 16);

/** A time range, the second date left out when it is the same day. */
export function range([start, end]) {
  const a = when(start);
  const b = when(end);
  if (a === b) return a;
  return b.slice(0, 10) === a.slice(0, 10) ? `${a}–${b.slice(11)}` : `${a} – ${b}`;
}
