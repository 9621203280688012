/**
 * 写值班记录 Write an entry: the kind, the text and, for an alarm handled, the alarm (from the
 * prompts) with its location, cause and handling (GB 25201 §5.2). "Correct this" opens the same
 * form naming the entry it corrects; nothing is ever edited in place.
 */

import { $, el, fill, fillWhenChanged } from "./dom.js";
import { CATEGORIES, label } from "./labels.js";
import { KINDS, minute } from "./duty-labels.js";
import { dutyPost } from "./duty-api.js";
import { toast } from "./toast.js";

let prompts = [];
let corrects = null; // the entry being corrected

function showAlarmFields() {
  const box = $("#entry-alarm-fields");
  const needed = $("#entry-kind").value === "alarm_handled";
  box.hidden = !needed;
  for (const input of box.querySelectorAll("select, input, textarea")) input.required = needed;
}

/**
 * The alarm select: the prompts, and the alarm chosen (or `extra`) even when no prompt names it.
 * Rebuilt only when those words change, so a refresh leaves the list open under the user.
 */
function alarmOptions(extra) {
  const select = $("#entry-alarm");
  const chosen = extra ?? select.value;
  const offered = prompts.map((p) => [String(p.alarm_id), `#${p.alarm_id} ${label(CATEGORIES, p.category)} · ${p.text} · ${minute(p.raised_at)}`]);
  if (chosen && !offered.some(([value]) => value === String(chosen))) offered.push([String(chosen), `#${chosen}`]);
  fillWhenChanged(select, offered, () => [
    el("option", { value: "" }, "选择报警 Choose the alarm"),
    offered.map(([value, words]) => el("option", { value }, words)),
  ]);
  if (select.value !== (chosen ?? "")) select.value = chosen ?? ""; // a refresh sets nothing
}

/** The alarms still lacking an entry, offered in the alarm select. */
export function setPrompts(list) {
  prompts = list;
  alarmOptions();
}

function showCorrects() {
  const box = $("#entry-corrects");
  box.hidden = !corrects;
  if (corrects) fill($("#entry-corrects-text"), `更正 corrects #${corrects.id}: ${corrects.text}`);
}

function reset() {
  $("#entry-form").reset();
  corrects = null;
  showCorrects();
  showAlarmFields();
}

function focusForm() {
  $("#entry-form").scrollIntoView({ block: "center" });
  $("#entry-text").focus();
}

/** Open the form to correct `entry`: same kind and fields, to be rewritten as they should be. */
export function correct(entry) {
  reset();
  corrects = entry;
  $("#entry-kind").value = entry.kind;
  alarmOptions(entry.alarm_id ? String(entry.alarm_id) : null);
  $("#entry-location").value = entry.location ?? "";
  $("#entry-cause").value = entry.cause ?? "";
  $("#entry-handling").value = entry.handling ?? "";
  $("#entry-text").value = entry.text;
  showCorrects();
  showAlarmFields();
  focusForm();
}

/** Open the form to log how a prompted alarm was handled. */
export function logAlarm(prompt) {
  reset();
  $("#entry-kind").value = "alarm_handled";
  alarmOptions(String(prompt.alarm_id));
  $("#entry-location").value = prompt.location ?? prompt.where ?? "";
  $("#entry-text").value = prompt.text;
  showAlarmFields();
  focusForm();
}

function body() {
  const kind = $("#entry-kind").value;
  const made = { kind, text: $("#entry-text").value.trim() };
  if (kind === "alarm_handled") {
    made.alarm_id = Number($("#entry-alarm").value) || null;
    made.location = $("#entry-location").value.trim();
    made.cause = $("#entry-cause").value.trim();
    made.handling = $("#entry-handling").value.trim();
  }
  if (corrects) made.corrects_id = corrects.id;
  return made;
}

/** `written(entry)` runs after the server stored an entry. */
export function setUpEntryForm({ written }) {
  fill($("#entry-kind"), Object.entries(KINDS).map(([kind, words]) => el("option", { value: kind }, words)));
  $("#entry-kind").addEventListener("change", showAlarmFields);
  $("#entry-corrects-cancel").addEventListener("click", reset);
  showAlarmFields();
  $("#entry-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = $("#entry-error");
    error.hidden = true;
    $("#entry-submit").disabled = true;
    try {
      const entry = await dutyPost("log", body());
      toast(`已记录 Logged #${entry.id}${entry.corrects_id ? ` (更正 corrects #${entry.corrects_id})` : ""}`, "ok");
      reset();
      await written(entry);
    } catch (failure) {
      fill(error, failure.message);
      error.hidden = false;
    } finally {
      $("#entry-submit").disabled = false;
    }
  });
}
