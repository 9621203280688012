/**
 * The printable patrol report: completion, lateness and missed checkpoints over site-local
 * dates, by route, guard, day or week, with the CSV downloads of the same numbers. The period and
 * grouping live in the URL, so a link (or a bookmark) shows the same report again.
 */

import { $, el, fill } from "./dom.js";
import { formatTime } from "./labels.js";
import { patrolGet, patrolUrl } from "./patrol-api.js";
import { startReport } from "./report-page.js";

const COLUMNS = [
  ["label", "名称 Name"],
  ["due", "应巡 Due"],
  ["tours", "巡逻 Tours"],
  ["walked", "完成 Walked"],
  ["not_started", "未开始 Not started"],
  ["incomplete", "未完成 Incomplete"],
  ["completion_rate", "完成率 Completion"],
  ["on_time", "准时 On time"],
  ["early", "提前 Early"],
  ["late", "迟到 Late"],
  ["out_of_order", "顺序错 Out of order"],
  ["missed", "漏检 Missed"],
  ["avg_late_min", "平均迟到 Avg lateness (min)"],
];
const BY_WORDS = { route: "按路线 by route", guard: "按保安 by guard", day: "按日 by day", week: "按周 by week" };

const cell = (row, name) => {
  const value = row[name];
  if (value === null || value === undefined) return "—";
  if (name === "completion_rate") return `${(value * 100).toFixed(1)}%`;
  return String(value);
};

const line = (row, tag = "td") =>
  el("tr", { dataset: { key: row.key } }, COLUMNS.map(([name]) => el(tag, { class: name }, cell(row, name))));

function render(report) {
  document.title = `巡逻报表 Patrol report ${report.date_from} – ${report.date_to} — ${report.site_name}`;
  fill($("#report-title"), `${report.site_name} · 巡逻报表 Patrol report`);
  fill($("#report-period"), `${report.date_from} 至 to ${report.date_to} · ${BY_WORDS[report.by] ?? report.by} · 打印于 printed ${formatTime(new Date())}`);
  fill($("#report-rows thead"), el("tr", {}, COLUMNS.map(([name, words]) => el("th", { class: name }, words))));
  fill($("#report-rows tbody"), report.rows.map((row) => line(row)));
  fill($("#report-rows tfoot"), line(report.total, "th"));
  fill(
    $("#report-missed tbody"),
    report.missed.length
      ? report.missed.map((m) =>
          el(
            "tr",
            { dataset: { tourId: m.tour_id, checkpoint: m.checkpoint } },
            el("td", {}, String(m.tour_id)),
            el("td", {}, m.route_name),
            el("td", { class: "checkpoint" }, m.checkpoint_name),
            el("td", {}, formatTime(m.due_by).slice(0, 16)),
            el("td", {}, m.guard_name ?? "—"),
          ),
        )
      : el("tr", {}, el("td", { colspan: 5, class: "muted" }, "无漏检 No missed checkpoints")),
  );
  // The form shows what is on screen: the server's defaults when the URL left them out.
  $("#report-from").value = report.date_from;
  $("#report-to").value = report.date_to;
  $("#report-by").value = report.by;
  const period = { from: report.date_from, to: report.date_to, by: report.by, format: "csv" };
  $("#csv-rows").href = patrolUrl("report", period);
  $("#csv-missed").href = patrolUrl("report", { ...period, table: "missed" });
  document.body.dataset.loaded = "true";
}

startReport(async (asked) => {
  const params = Object.fromEntries(["from", "to", "by"].map((name) => [name, asked.get(name)]));
  render(await patrolGet("report", params));
});
