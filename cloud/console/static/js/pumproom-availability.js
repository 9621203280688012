/** 数据完整性 Data availability: how much of the week each device was heard, every gap listed. */

import { el } from "./dom.js";
import { pct, range } from "./pumproom-labels.js";
import { part, table } from "./pumproom-table.js";

function bar(share) {
  const width = Math.max(0, Math.min(100, share * 100));
  return el("span", { class: "heard-bar", title: pct(share) }, el("span", { class: "heard-fill", style: `width:${width}%` }));
}

export function renderAvailability(availability, names) {
  const gappy = availability.filter((a) => a.gaps.length).length;
  const rows = availability.map((a) => ({
    attrs: { class: a.gaps.length ? "gap" : "", dataset: { device: a.device, gaps: String(a.gaps.length) } },
    cells: [
      names.get(a.device) ?? a.device,
      [bar(a.share), " ", el("strong", {}, pct(a.share))],
      a.gaps.length ? el("ul", { class: "ranges" }, a.gaps.map((g) => el("li", {}, `无数据 no data ${range(g)}`))) : "无缺失 none",
    ],
  }));
  return part(
    "availability",
    "数据完整性 Data availability",
    el(
      "p",
      { class: gappy ? "gap-summary" : "muted" },
      gappy ? `${gappy} 台设备本周有数据缺失：缺失期间的情况未知，不视为正常。${gappy} device(s) unheard for part of the week: what happened then is unknown, not fine.` : "本周所有设备数据完整 Every device heard all week so far.",
    ),
    table(["设备 Device", "收到 Heard", "缺失 Gaps"], rows),
  );
}
