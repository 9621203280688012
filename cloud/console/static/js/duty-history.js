/**
 * 交接班与值班记录历史: the handovers of a period (status, both sides, a link to each printable
 * record) and the duty log of one day. The dates live in the URL, so a link shows the same.
 */

import { $, el, fill } from "./dom.js";
import { dutyGet, recordUrl } from "./duty-api.js";
import { HANDOVER_STATES, signatureWords } from "./duty-labels.js";
import { label } from "./labels.js";
import { renderLog } from "./duty-log.js";
import { showLoadError } from "./report-page.js";

const DAY_MS = 24 * 3600 * 1000;
const localDay = (ms) => new Date(ms - new Date(ms).getTimezoneOffset() * 60000).toISOString().slice(0, 10);

function handoverRows(handovers, names) {
  if (!handovers.length) return el("tr", {}, el("td", { colspan: 7, class: "muted" }, "无交接班 No handovers in this period"));
  const shift = (id, date) => `${names[id] ?? id} ${date}`;
  return handovers.map((h) =>
    el(
      "tr",
      { dataset: { handoverId: h.id, status: h.status } },
      el("td", {}, `#${h.id}`),
      el("td", {}, shift(h.shift, h.shift_date)),
      el("td", {}, shift(h.incoming_shift, h.incoming_date)),
      el("td", { class: "status" }, label(HANDOVER_STATES, h.status)),
      el("td", {}, signatureWords(h.outgoing)),
      el("td", {}, h.incoming ? signatureWords(h.incoming) : "—", h.remarks ? el("div", { class: "sub" }, `意见 Remarks: ${h.remarks}`) : null),
      el("td", {}, el("a", { href: recordUrl(h.id), class: "record-link" }, "查看/打印 View / print")),
    ),
  );
}

async function load() {
  const asked = new URLSearchParams(location.search);
  const today = localDay(Date.now());
  const to = asked.get("to") || today;
  const from = asked.get("from") || localDay(Date.now() - 30 * DAY_MS);
  const day = asked.get("day") || today;
  $("#history-site").value = asked.get("site") ?? "";
  $("#history-site").disabled = !asked.get("site");
  $("#history-from").value = from;
  $("#history-to").value = to;
  $("#history-day").value = day;
  const [handovers, shifts, log] = await Promise.all([
    dutyGet("handovers", { from, to }),
    dutyGet("shifts"),
    dutyGet("log", { day }),
  ]);
  const names = Object.fromEntries(shifts.shifts.map((s) => [s.id, s.name]));
  fill($("#handovers tbody"), handoverRows(handovers, names));
  fill($("#history-log-title"), `值班记录 Duty log ${day} · 全部班次 all shifts`);
  renderLog($("#history-log tbody"), log);
  document.body.dataset.loaded = "true";
}

load().catch(showLoadError);
