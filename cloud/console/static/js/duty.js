/**
 * The fire control room's duty page (值班): who is on duty and any pending handover, the status
 * check due time, the shift's log with corrections, the entry form, the alarms still lacking an
 * entry, and the handover. It refreshes on a timer and whenever an alarm changes.
 */

import { $, countRun, fill } from "./dom.js";
import { COMMON_KEYS, startShell } from "./shell.js";
import { hhmm } from "./patrol-labels.js";
import { dutyGet, pageUrl } from "./duty-api.js";
import { renderStatus } from "./duty-status.js";
import { renderLog } from "./duty-log.js";
import { correct, logAlarm, setPrompts, setUpEntryForm } from "./duty-entry.js";
import { renderPrompts } from "./duty-prompts.js";
import { renderHandover, setUpHandover } from "./duty-handover.js";
import { shiftWords } from "./duty-labels.js";
import { renderRoster, setUpRoster } from "./duty-roster.js";
import { showLoadError } from "./report-page.js";
import { offer } from "./permissions.js";

const REFRESH_MS = 15000;
const KEYS = COMMON_KEYS.filter(([key]) => ["m", "?", "Esc"].includes(key));
const { live } = startShell({ keys: KEYS });
let loading = null;
let again = false;
// Writing in the log (an entry, a correction, an alarm's handling) is one operation: POST /api/duty/log.
const canWrite = offer($("#entry-form"), "POST", "/api/duty/log", { zh: "写值班记录或更正", en: "write or correct log entries" });

/** The log shown: the shift on duty's, or all of an earlier day picked in the date field. */
async function loadLog(status) {
  const day = $("#log-date").value;
  const shift = status.on_duty;
  const onDuty = !day && shift;
  fill($("#log-scope"), onDuty ? `当班 Shift on duty: ${shiftWords(shift)}` : `日期 Day: ${day || "今天 today"}`);
  $("#log-today").hidden = !day;
  const entries = await dutyGet("log", onDuty ? { day: shift.date, shift: shift.id } : { day });
  renderLog($("#log tbody"), entries, { onCorrect: canWrite ? correct : null });
}

async function loadPrompts() {
  const prompts = await dutyGet("prompts");
  renderPrompts($("#prompts tbody"), prompts, { onLog: canWrite ? logAlarm : null });
  setPrompts(prompts);
}

async function load() {
  const status = await dutyGet("status");
  renderStatus(status);
  await Promise.all([loadLog(status), loadPrompts(), renderHandover(status), renderRoster(status)]);
  fill($("#refreshed"), hhmm(new Date().toISOString()));
  document.body.dataset.loaded = "true";
}

/** One load at a time; a refresh asked for during one runs once more after it (the caller waits). */
function refresh() {
  if (loading) {
    again = true;
    return loading;
  }
  loading = (async () => {
    do {
      again = false;
      try {
        await load();
        $("#load-error").hidden = true;
        countRun();
      } catch (error) {
        showLoadError(error);
      }
    } while (again);
  })().finally(() => {
    loading = null;
  });
  return loading;
}

function start() {
  $("#history-link").href = pageUrl("/duty/history");
  setUpEntryForm({ written: refresh });
  setUpHandover({ onChange: refresh });
  setUpRoster({ onChange: refresh });
  $("#log-date").addEventListener("change", refresh);
  $("#log-today").addEventListener("click", () => {
    $("#log-date").value = "";
    refresh();
  });
  live.addEventListener("change", refresh);
  setInterval(refresh, REFRESH_MS);
  return refresh();
}

start();
