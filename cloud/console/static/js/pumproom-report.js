/** A week's report as a whole: its period, the findings first, then every section, and its charts. */

import { $, el, fill, fillWhenChanged } from "./dom.js";
import { chartUrl } from "./pumproom-api.js";
import { renderAvailability } from "./pumproom-availability.js";
import { renderFindings } from "./pumproom-findings.js";
import { when } from "./pumproom-labels.js";
import { renderPumps } from "./pumproom-pumps.js";
import { renderJockey, renderLeaks, renderSupply, renderValves } from "./pumproom-sections.js";

function period(report, signed) {
  const state = signed
    ? el("strong", { class: "pass" }, "已签字封存 signed and sealed")
    : report.complete
      ? el("strong", { class: "fail" }, "已结束，未签字 Week over, not signed")
      : el("strong", {}, "进行中 In progress — 报告随数据更新 the report builds up as the week goes");
  return [`周 Week ${report.week_start} – ${report.week_end} · 编制于 Compiled ${when(report.compiled_at)} · `, state];
}

/** Fetch the charts again only when the report moved on (at most once a minute). */
function showCharts(room, report) {
  const stamp = report.compiled_at.slice(0, 16);
  for (const name of ["pressure", "jockey"]) {
    const img = $(`#chart-${name}`);
    const src = chartUrl(room, report.week_start, name, stamp);
    if (img.getAttribute("src") === src) continue;
    img.dataset.state = "loading";
    img.onload = () => (img.dataset.state = "loaded");
    img.onerror = () => (img.dataset.state = "missing");
    img.src = src;
  }
}

/** `context`: {room, names: device → name, leakDevices: [ids]} from the room list. */
export function renderReport({ report, signed }, context) {
  const heard = new Map(report.availability.map((a) => [a.device, a]));
  fill($("#week-title"), `${report.room_name} 周检报告 Weekly report`);
  fill($("#week-period"), period(report, signed));
  $("#week").dataset.week = report.week_start;
  $("#week").dataset.signed = String(Boolean(signed));
  fillWhenChanged($("#report"), [report, context.leakDevices, [...context.names]], () => [
    renderFindings(report.findings),
    renderPumps(report.pumps, heard),
    renderJockey(report.jockey, heard),
    renderSupply(report.supply, heard),
    renderValves(report.valves, heard),
    renderLeaks(report.leaks, context.leakDevices, heard),
    renderAvailability(report.availability, context.names),
  ]);
  showCharts(context.room, report);
  $("#week").hidden = $("#charts").hidden = false;
}
