/**
 * 待记录报警 Alarms still lacking a log entry: every fire alarm and fault wants an "alarm handled"
 * entry (GB 25201 §5.2). The ones an operator has already handled (acknowledged) but nobody has
 * logged are highlighted: the log is behind what was done.
 */

import { el, fillWhenChanged } from "./dom.js";
import { CATEGORIES, label } from "./labels.js";
import { minute } from "./duty-labels.js";

function promptRow(p, onLog) {
  return el(
    "tr",
    { class: p.handled ? "handled-unlogged" : "", dataset: { alarmId: p.alarm_id, handled: String(p.handled) } },
    el("td", {}, minute(p.raised_at)),
    el("td", {}, label(CATEGORIES, p.category)),
    el("td", {}, el("a", { href: `/alarms/${p.alarm_id}` }, `#${p.alarm_id}`), ` ${p.text}`),
    el("td", {}, [p.where, p.location].filter(Boolean).join(" · ")),
    el(
      "td",
      { class: "handled" },
      p.handled ? el("strong", {}, "已处理，缺记录 Handled, still lacking an entry") : "未确认 Not acknowledged yet",
    ),
    el("td", { class: "row-actions" }, onLog ? el("button", { type: "button", class: "log-alarm", onclick: () => onLog(p) }, "记录处理 Log handling") : null),
  );
}

/**
 * `onLog(prompt)` opens the entry form for the alarm; without it (a role that may not write) no
 * button shows. Rebuilt only when the prompts change: a refresh must not swap a button or link
 * under a click.
 */
export function renderPrompts(tbody, prompts, { onLog }) {
  fillWhenChanged(tbody, [prompts, Boolean(onLog)], () =>
    prompts.length
      ? prompts.map((p) => promptRow(p, onLog))
      : el("tr", {}, el("td", { colspan: 6, class: "muted" }, "无 None: every fire alarm and fault is logged")),
  );
}
