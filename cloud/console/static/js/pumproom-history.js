/** 周检历史 The room's weekly reports, newest first: signed by whom and when, unsigned, overdue. */

import { el, fillWhenChanged } from "./dom.js";
import { printUrl, weekPage } from "./pumproom-api.js";
import { when } from "./pumproom-labels.js";

function status(week) {
  if (week.signed) return el("span", { class: "pass" }, "已签字 Signed");
  if (week.overdue) return el("strong", { class: "overdue-flag" }, "逾期未签 OVERDUE, not signed");
  return el("span", { class: "muted" }, "未签字 Not signed");
}

export function renderHistory(tbody, room, weeks, current) {
  fillWhenChanged(tbody, [room, weeks, current], () =>
    weeks.map((w) =>
      el(
        "tr",
        { class: [w.overdue ? "overdue" : "", w.week === current ? "current" : ""].join(" ").trim(), dataset: { week: w.week, signed: String(w.signed), overdue: String(w.overdue) } },
        el("td", {}, el("a", { class: "week-link", href: weekPage(room, w.week) }, `${w.week} 周 week`)),
        el("td", { class: "status" }, status(w)),
        el("td", { class: "engineer" }, w.engineer ?? "—"),
        el("td", {}, w.signed_at ? when(w.signed_at) : "—"),
        el("td", {}, w.findings ?? "—"),
        el("td", {}, el("a", { class: "print-link", href: printUrl(room, w.week), target: "_blank" }, "打印 Print")),
      ),
    ),
  );
}
