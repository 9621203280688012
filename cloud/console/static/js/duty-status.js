/**
 * Who is on duty: the shift on duty and the one the timetable wants, the pending-handover banner
 * (the same words for both sides: 接班人员未上岗，不准下岗), roster violations, and when the next
 * equipment status check is due (red once overdue).
 */

import { $, el, fill } from "./dom.js";
import { minute, shiftWords } from "./duty-labels.js";

function shiftCell(selector, shift) {
  fill(
    $(selector),
    shift ? el("strong", {}, shiftWords(shift)) : "—",
    shift ? el("div", { class: "sub staff" }, `人员 Staff: ${shift.staff.length ? shift.staff.join(", ") : "—"}`) : null,
  );
}

function banner(status) {
  const node = $("#handover-banner");
  node.hidden = !status.message;
  if (!status.message) return;
  const pending = status.pending;
  fill(
    node,
    el("div", { class: "banner-title", id: "handover-message" }, status.message),
    pending
      ? el(
          "div",
          { class: "sub" },
          pending.signed
            ? `交班方已签字，等待${pending.incoming.name}接班 Outgoing signed; waiting for the incoming staff to accept`
            : `交班方尚未签字 The outgoing staff have not signed the handover yet`,
        )
      : null,
  );
  node.dataset.signed = String(Boolean(pending?.signed));
}

function statusCheck(status) {
  const due = status.status_check_due;
  const overdue = due !== null && Date.parse(due) <= Date.now();
  const node = $("#status-due");
  node.classList.toggle("overdue", overdue);
  node.dataset.overdue = String(overdue);
  fill(
    node,
    due ? minute(due) : "尚无记录，现在应检查 No check logged yet: due now",
    overdue ? el("span", { class: "flag" }, " 已逾期 Overdue") : null,
  );
  fill($("#status-last"), minute(status.last_status_check));
}

export function renderStatus(status) {
  shiftCell("#on-duty", status.on_duty);
  shiftCell("#scheduled", status.scheduled);
  banner(status);
  const list = $("#violations");
  list.hidden = !status.violations.length;
  fill(list, status.violations.map((words) => el("li", {}, words)));
  statusCheck(status);
}
