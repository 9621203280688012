/**
 * The printable parking day report: entries and exits, who is inside, denied reads by reason,
 * violations, strangers and their registrations, emergency passes, and unloading vehicles
 * against the free / charged rule. The day lives in the URL, so a link shows the same report.
 */

import { $, el, fill } from "./dom.js";
import { formatTime, label } from "./labels.js";
import { parkingGet } from "./parking-api.js";
import { startReport } from "./report-page.js";
import { CARD_TYPES, DIRECTIONS, PURPOSES, REASONS, VERDICTS, minute } from "./parking-labels.js";

const PASS_HEAD = ["时间 Time", "车道 Lane", "卡号 Card", "持卡人 Holder", "原因 Reason", "操作人/备注 By / note"];
const none = (colspan, words = "无 None") => el("tr", {}, el("td", { colspan, class: "muted" }, words));

function passRows(selector, passes) {
  fill($(`${selector} thead`), el("tr", {}, PASS_HEAD.map((words) => el("th", {}, words))));
  fill(
    $(`${selector} tbody`),
    passes.length
      ? passes.map((p) =>
          el(
            "tr",
            { dataset: { passId: p.id, reason: p.reason } },
            el("td", {}, minute(p.at)),
            el("td", {}, `${p.lane} ${label(DIRECTIONS, p.direction)}`),
            el("td", {}, p.card ?? "—"),
            el("td", {}, p.holder ?? "—"),
            el("td", { class: "reason" }, label(REASONS, p.reason), p.violation ? " · 违规放行 let through, recorded" : ""),
            el("td", {}, [p.by, p.note].filter(Boolean).join(" · ")),
          ),
        )
      : none(PASS_HEAD.length),
  );
}

function counts(selector, table, words) {
  const entries = Object.entries(table);
  fill(
    $(`${selector} tbody`),
    entries.length
      ? entries.map(([key, n]) => el("tr", { dataset: { key } }, el("td", {}, label(words, key)), el("td", { class: "count" }, String(n))))
      : none(2),
  );
}

const limit = (minutes) => String(Number(minutes.toFixed(1)));

/** The verdict with the site's own limit it is measured against. */
function verdictWords(verdict, report) {
  const words = label(VERDICTS, verdict);
  if (verdict === "charged") return `${words}（超过${limit(report.unloading_charged_after_min)}分钟 past ${limit(report.unloading_charged_after_min)} min）`;
  if (verdict === "over_free") return `${words}（${limit(report.unloading_free_min)}分钟 ${limit(report.unloading_free_min)} min）`;
  return words;
}

function render(report) {
  document.title = `车库日报 Parking day report ${report.day} — ${report.site_name}`;
  fill($("#report-title"), `${report.site_name} · 车库日报 Parking day report`);
  for (const id of ["#def-free", "#def-free-zh"]) fill($(id), limit(report.unloading_free_min));
  for (const id of ["#def-charged", "#def-charged-zh"]) fill($(id), limit(report.unloading_charged_after_min));
  fill($("#report-period"), `${report.day} · 打印于 printed ${formatTime(new Date())}`);
  fill($("#report-entries"), String(report.entries));
  fill($("#report-exits"), String(report.exits));
  counts("#report-occupancy", report.occupancy, { ...CARD_TYPES, stranger: "登记陌生车辆 Registered strangers" });
  counts("#report-denied", report.denied, REASONS);
  fill(
    $("#report-unloading tbody"),
    report.unloading.length
      ? report.unloading.map((u) =>
          el(
            "tr",
            { class: `verdict-${u.verdict}`, dataset: { plate: u.plate_or_card, verdict: u.verdict } },
            el("td", {}, u.plate_or_card),
            el("td", {}, minute(u.entered_at)),
            el("td", {}, u.exited_at ? minute(u.exited_at) : "仍在场内 Still inside"),
            el("td", { class: "minutes" }, u.minutes.toFixed(1)),
            el("td", { class: "verdict" }, verdictWords(u.verdict, report)),
          ),
        )
      : none(5),
  );
  passRows("#report-violations", report.violations);
  passRows("#report-strangers", report.strangers);
  passRows("#report-emergency", report.emergency);
  fill(
    $("#report-registrations tbody"),
    report.registrations.length
      ? report.registrations.map((r) =>
          el(
            "tr",
            { dataset: { registrationId: r.id, passId: r.pass_id ?? "" } },
            el("td", {}, minute(r.at)),
            el("td", {}, `${r.lane} ${label(DIRECTIONS, r.direction)}`),
            el("td", { class: "plate" }, r.plate),
            el("td", {}, r.driver ?? "—"),
            el("td", {}, label(PURPOSES, r.purpose)),
            el("td", {}, r.let_through ? "是 Yes" : "否 No"),
            el("td", {}, r.by),
            el("td", {}, r.notes ?? ""),
          ),
        )
      : none(8),
  );
  $("#report-day").value = report.day;
  document.body.dataset.loaded = "true";
}

startReport(async (asked) => render(await parkingGet("gates/report", { day: asked.get("day") })));
