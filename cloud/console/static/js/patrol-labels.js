/** Bilingual words of patrol: what became of a tour, checkpoint verdicts, incident categories. */

import { formatTime } from "./labels.js";

export const OUTCOMES = {
  walked: "已巡 Walked",
  late: "迟到 Late",
  missed: "漏检 Missed",
  not_started: "未开始 Not started",
  in_progress: "巡逻中 In progress",
  due: "待巡 Due",
};

export const INCIDENT_CATEGORIES = {
  leak: "漏水 Leak",
  damage: "损坏 Damage",
  suspicious_person: "可疑人员 Suspicious person",
  fire_hazard: "火灾隐患 Fire hazard",
  other: "其他 Other",
};

/** The control room's date, `YYYY-MM-DD`: what `hhmm` leaves out. */
export const today = () => formatTime(new Date()).slice(0, 10);

/**
 * `HH:MM` in the control room's time zone; with the date when it is not today. The words change
 * at midnight with no new data, so what fillWhenChanged compares must name `today()` too.
 */
export function hhmm(value) {
  if (!value) return "";
  const text = formatTime(value);
  return text.startsWith(today()) ? text.slice(11, 16) : text.slice(0, 16);
}

/** A tour's name in a row: its route and, for a scheduled one, the slot it was due. */
export function slotWords(tour) {
  return tour.scheduled_at ? hhmm(tour.scheduled_at) : "计划外 Unscheduled";
}
