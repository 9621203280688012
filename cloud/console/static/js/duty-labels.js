/** Bilingual words of the duty pages: entry kinds, handover states, shifts, names lists. */

import { formatTime } from "./labels.js";

export const KINDS = {
  status_check: "设备状态检查 Equipment status check",
  panel_check: "火灾报警控制器日检 Fire panel daily check",
  alarm_handled: "报警处理 Alarm handled",
  phone_call: "来电 Phone call",
  visitor: "来访 Visitor",
  other: "其他 Other",
};

export const HANDOVER_STATES = {
  signed: "已签字待接班 Signed, awaiting acceptance",
  accepted: "已接班已封存 Accepted and sealed",
};

/** `YYYY-MM-DD HH:MM` in the control room's zone; "—" when absent. */
export const minute = (value) => (value ? formatTime(value).slice(0, 16) : "—");

/** "白班 Day 2026-12-06 (08:00–16:00)". */
export function shiftWords(shift) {
  if (!shift) return "—";
  const hours = `${formatTime(shift.start).slice(11, 16)}–${formatTime(shift.end).slice(11, 16)}`;
  return `${shift.name} ${shift.date} (${hours})`;
}

/** "王芳, 李强" from a text field: split on commas (both widths), 、 and new lines. */
export const namesOf = (text) =>
  text
    .split(/[,，、\n]/)
    .map((name) => name.trim())
    .filter(Boolean);

/** Signatures [{name, at}] as "王芳 (2026-12-06 16:02)". */
export const signatureWords = (signatures) => (signatures ?? []).map((s) => `${s.name} (${minute(s.at)})`).join(", ");
