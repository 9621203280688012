/**
 * The printable handover record (交接班记录): site, shifts, both sides' names and signature
 * times, notes, remarks, every section of the signed draft, and the seal that makes it final.
 */

import { $, el, fill } from "./dom.js";
import { dutyGet, pageUrl } from "./duty-api.js";
import { renderDraft } from "./duty-draft.js";
import { HANDOVER_STATES, minute, shiftWords } from "./duty-labels.js";
import { label } from "./labels.js";
import { showLoadError } from "./report-page.js";

const field = (key, term, ...value) => [el("dt", {}, term), el("dd", { dataset: { field: key } }, ...value)];

function signatures(handover) {
  const rows = [
    ...handover.outgoing.map((s) => ["outgoing", "交班 Outgoing", s]),
    ...(handover.incoming ?? []).map((s) => ["incoming", "接班 Incoming", s]),
  ];
  return rows.map(([side, words, s]) =>
    el("tr", { dataset: { side } }, el("td", {}, words), el("td", { class: "name" }, s.name), el("td", { class: "at" }, minute(s.at)), el("td", { class: "signature-line" })),
  );
}

function seal(handover) {
  const node = $("#record-seal");
  if (!handover.seal) {
    node.dataset.sealed = "false";
    fill(node, el("strong", {}, "未封存 Not sealed: 待接班方接班 awaiting the incoming staff's acceptance"));
    return;
  }
  const s = handover.seal;
  node.dataset.sealed = "true";
  fill(
    node,
    el("strong", {}, "已封存，永不更改 Sealed, never changes"),
    el(
      "dl",
      { class: "fields" },
      field("seq", "记录序号 Record number", `${s.seq}`),
      field("hash", "哈希 Hash (SHA-256)", el("code", {}, s.hash)),
      field("prev_hash", "前一记录哈希 Previous hash", el("code", {}, s.prev_hash)),
      field("sealed_at", "封存时间 Sealed at", minute(s.sealed_at)),
      field("sealed_by", "签名 Signed by", s.sealed_by),
    ),
    el("p", { class: "muted" }, "封存记录按哈希链接，任何修改都可由 `sitewatch cloud verify-records` 发现。Sealed records are chained by hash: `sitewatch cloud verify-records` detects any change."),
  );
}

function render(handover, shifts) {
  const { draft } = handover;
  const incoming = shifts.find((s) => s.id === handover.incoming_shift);
  document.title = `交接班记录 Handover #${handover.id} — ${draft.site.name}`;
  fill($("#record-title"), `${draft.site.name} · 消防控制室交接班记录 Fire control room handover record`);
  fill(
    $("#record-meta"),
    field("id", "记录编号 Record no.", `#${handover.id}`),
    field("outgoing", "交班班次 Outgoing shift", shiftWords(draft.shift)),
    field("incoming", "接班班次 Incoming shift", `${incoming ? incoming.name : handover.incoming_shift} ${handover.incoming_date}`),
    field("status", "状态 Status", label(HANDOVER_STATES, handover.status)),
    field("staff", "排班人员 Rostered staff", draft.staff.join(", ") || "—"),
    field("signed_at", "交班签字 Signed", minute(handover.signed_at)),
    field("accepted_at", "接班 Accepted", minute(handover.accepted_at)),
  );
  fill($("#record-signatures tbody"), signatures(handover));
  fill($("#record-notes"), handover.notes || "无 None");
  fill($("#record-remarks"), handover.remarks || "无 None");
  fill($("#record-draft"), renderDraft(draft));
  seal(handover);
  document.body.dataset.loaded = "true";
}

async function load() {
  $("#print").addEventListener("click", () => window.print());
  $("#back-link").href = pageUrl("/duty/history");
  const id = location.pathname.split("/").pop();
  const [handover, shifts] = await Promise.all([dutyGet(`handovers/${encodeURIComponent(id)}`), dutyGet("shifts")]);
  render(handover, shifts.shifts);
}

load().catch(showLoadError);
