/** Small building blocks of the report: a table, a section, and the "data gap" badge. */

import { el } from "./dom.js";
import { pct } from "./pumproom-labels.js";

/** `rows`: arrays of cells, or {cells, attrs} for a row with a class or data attributes. */
export function table(headers, rows, attrs = {}) {
  return el(
    "table",
    { class: "grid", ...attrs },
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
    el(
      "tbody",
      {},
      rows.map((row) => (Array.isArray(row) ? el("tr", {}, row.map((c) => el("td", {}, c))) : el("tr", row.attrs, row.cells.map((c) => el("td", {}, c))))),
    ),
  );
}

export const part = (id, title, ...children) => el("div", { class: "report-part", id }, el("h3", {}, title), ...children);

export const none = (words = "无 None") => el("p", { class: "muted" }, words);

/**
 * Next to a device whose data has gaps this week: its share heard, so a quiet section is never
 * read as "fine". `heard`: device → availability entry of the report.
 */
export function gapBadge(heard, device) {
  const entry = heard.get(device);
  if (!entry) return null;
  if (!entry.gaps.length) return null;
  return el("span", { class: "gap-badge", title: "本周部分时间无数据 part of the week unheard" }, `数据缺失 data gap · ${pct(entry.share)} heard`);
}
