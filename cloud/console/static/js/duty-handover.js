/**
 * 交接班 Handover on the duty page: the draft of the shift on duty, the outgoing staff's notes and
 * signatures; once signed, the incoming staff (at least 2) accept, with remarks if they have any;
 * once accepted, the sealed record's printable view. Refusals show the server's words verbatim.
 */

import { $, el, fill, submitting } from "./dom.js";
import { dutyGet, dutyPost, recordUrl } from "./duty-api.js";
import { renderDraft } from "./duty-draft.js";
import { minute, namesOf, shiftWords, signatureWords } from "./duty-labels.js";
import { offer } from "./permissions.js";
import { toast } from "./toast.js";

let shown = null; // {shift, handover}: what the forms are about
let changed = async () => {};
let canSign = true; // the viewer's role may sign (outgoing) and accept (incoming)

const keyOf = (shift) => (shift ? `${shift.id}/${shift.date}` : "");

async function handoverOf(shift, pending) {
  if (pending?.id && keyOf(pending.outgoing) === keyOf(shift)) return dutyGet(`handovers/${pending.id}`);
  const found = await dutyGet("handovers", { from: shift.date, to: shift.date });
  const mine = found.find((h) => h.shift === shift.id && h.shift_date === shift.date);
  return mine ? dutyGet(`handovers/${mine.id}`) : null;
}

function showState(shift, handover) {
  const state = handover ? handover.status : "draft";
  $("#handover").dataset.state = state;
  fill(
    $("#handover-state"),
    el("strong", {}, `交班 Outgoing: ${shiftWords(shift)}`),
    " · ",
    state === "draft"
      ? "待交班方签字 Waiting for the outgoing staff to sign"
      : state === "signed"
        ? `已签字 Signed by ${signatureWords(handover.outgoing)}; 待接班 waiting for the incoming staff`
        : "已接班 Accepted",
  );
  $("#sign-form").hidden = state !== "draft" || !canSign;
  $("#signed-box").hidden = state !== "signed";
  if (state === "signed") {
    fill($("#signed-by"), signatureWords(handover.outgoing));
    fill($("#signed-notes"), handover.notes || "—");
  }
}

function prefill(input, names) {
  if (!input.dataset.touched && !input.value) input.value = names.join(", ");
}

/** Re-read the shift on duty's handover and draft; the forms keep what is being typed. */
export async function renderHandover(status) {
  const shift = status.on_duty;
  if (!shift) {
    fill($("#handover-state"), "无当班班次 No shift is on duty (duty.shifts in the site file)");
    $("#sign-form").hidden = $("#signed-box").hidden = true;
    return;
  }
  const handover = await handoverOf(shift, status.pending);
  const fresh = keyOf(shift) !== keyOf(shown?.shift) || handover?.id !== shown?.handover?.id;
  if (fresh) for (const input of document.querySelectorAll("#handover input, #handover textarea")) {
    input.value = "";
    delete input.dataset.touched;
  }
  shown = { shift, handover };
  prefill($("#sign-names"), shift.staff);
  if (status.pending && keyOf(status.pending.outgoing) === keyOf(shift)) prefill($("#accept-names"), status.pending.incoming.staff);
  showState(shift, handover);
  const draft = handover ? handover.draft : await dutyGet("handover/draft", { shift: shift.id, date: shift.date });
  fill($("#draft-title"), handover ? `已签字的交接记录 The signed record (${minute(handover.signed_at)})` : `草稿 Draft as of ${minute(draft.drafted_at)}`);
  fill($("#draft"), renderDraft(draft));
}

function act(errorSelector, button, work) {
  return submitting(button, $(errorSelector), async () => {
    await work();
    await changed();
  });
}

function sign(event) {
  event.preventDefault();
  const { shift } = shown;
  act("#sign-error", $("#sign-submit"), async () => {
    const notes = $("#sign-notes").value.trim();
    const made = await dutyPost("handovers", { shift: shift.id, day: shift.date, signers: namesOf($("#sign-names").value), notes: notes || null });
    toast(`交班方已签字 Signed: ${shiftWords(shift)} (#${made.id})`, "ok");
  });
}

function accept(event) {
  event.preventDefault();
  const withRemarks = event.submitter?.value === "remarks";
  const remarks = $("#accept-remarks").value.trim();
  const { handover } = shown;
  act("#accept-error", event.submitter ?? $("#accept-submit"), async () => {
    if (withRemarks && !remarks) throw new Error("请写明异议 Write the remarks to accept with remarks");
    const made = await dutyPost(`handovers/${handover.id}/accept`, { staff: namesOf($("#accept-names").value), remarks: remarks || null });
    showSealed(made);
    toast(`已接班并封存 Accepted and sealed (#${made.id})`, "ok");
  });
}

/** After acceptance: the sealed record stays one click away, even once the next shift shows. */
function showSealed(handover) {
  const link = $("#record-link");
  link.href = recordUrl(handover.id);
  fill(link, `交接记录 #${handover.id} 打印 Printable record`);
  fill($("#sealed-words"), `已接班并封存 Accepted and sealed ${minute(handover.accepted_at)} · 接班 Incoming: ${signatureWords(handover.incoming)} · `);
  $("#handover-sealed").hidden = false;
}

/** `onChange()` reloads the page's data after a signature or an acceptance. */
export function setUpHandover({ onChange }) {
  changed = onChange;
  canSign = offer($("#sign-form"), "POST", "/api/duty/handovers", { zh: "签字交班", en: "sign a handover" });
  offer($("#accept-form"), "POST", "/api/duty/handovers/{handover_id}/accept", { zh: "接班", en: "accept a handover" });
  $("#sign-form").addEventListener("submit", sign);
  $("#accept-form").addEventListener("submit", accept);
  for (const input of document.querySelectorAll("#handover input, #handover textarea")) {
    input.addEventListener("input", () => {
      input.dataset.touched = "true";
    });
  }
}
