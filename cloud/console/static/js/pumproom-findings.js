/** 发现 Findings: by severity, each with its time ranges and the alarms behind it (linked). */

import { el } from "./dom.js";
import { pageUrl } from "./duty-api.js";
import { FINDINGS, SEVERITY, range, word } from "./pumproom-labels.js";
import { none, part, table } from "./pumproom-table.js";

const alarmLinks = (ids) => (ids.length ? ids.map((id) => [el("a", { href: pageUrl(`/alarms/${id}`), class: "alarm-link" }, `#${id}`), " "]) : "—");

const ranges = (found) => (found.length ? el("ul", { class: "ranges" }, found.map((r) => el("li", {}, range(r)))) : "—");

export function renderFindings(findings) {
  if (!findings.length) return part("findings", "发现 Findings", none("无发现 No findings"));
  const rows = findings.map((f) => ({
    attrs: { class: `finding severity-${f.severity}`, dataset: { code: f.code, severity: f.severity, device: f.device ?? "" } },
    cells: [el("span", { class: `severity ${f.severity}` }, word(SEVERITY, f.severity)), el("strong", {}, word(FINDINGS, f.code)), el("span", { class: "text" }, f.text), ranges(f.ranges), alarmLinks(f.alarm_ids)],
  }));
  return part("findings", `发现 Findings (${findings.length})`, table(["严重度 Severity", "类别 Kind", "说明 Finding", "时间 When", "报警 Alarms"], rows, { id: "findings-table" }));
}
