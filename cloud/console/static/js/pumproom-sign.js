/**
 * 工程师签字 The engineer's sign-off: every checklist item OK / not OK with a note, the notes,
 * and the signature (the logged-in user's name). Once signed the week is sealed: the seal's number and
 * hash, the answers, and the printable and downloadable report. Refusals show the server's words.
 */

import { $, el, fill, fillWhenChanged } from "./dom.js";
import { me } from "./me.js";
import { printUrl, signWeek } from "./pumproom-api.js";
import { when } from "./pumproom-labels.js";
import { offer } from "./permissions.js";
import { table } from "./pumproom-table.js";
import { toast } from "./toast.js";

let shown = null; // {room, monday, items}: what the form signs
let changed = async () => {};
let canSign = true; // the viewer's role may sign (engineers, admins); others see the week only

function item({ id, text }) {
  const name = `check-${id}`;
  return el(
    "fieldset",
    { class: "check", dataset: { item: id } },
    el("legend", {}, text),
    el("label", {}, el("input", { type: "radio", name, value: "ok", required: true }), " 正常 OK"),
    el("label", {}, el("input", { type: "radio", name, value: "not-ok" }), " 异常 Not OK"),
    el("input", { type: "text", class: "note", name: `${name}-note`, maxlength: 1000, placeholder: "说明 Note", "aria-label": `说明 Note: ${text}` }),
  );
}

const touched = () => $("#sign-form").dataset.touched === "true";

function showForm(report, room) {
  const key = `${room}/${report.week_start}`;
  const ids = report.checklist.map((c) => c.id).join(",");
  if (shown?.key !== key || shown.ids !== ids) {
    fill($("#checklist"), report.checklist.map(item));
    $("#sign-notes").value = "";
    delete $("#sign-form").dataset.touched;
  }
  shown = { key, ids, room, monday: report.week_start, items: report.checklist };
  $("#sign-week-open").hidden = report.complete;
  fill($("#sign-engineer"), me?.name || "—");
  $("#sign-form").hidden = !canSign;
}

function showSealed(signed, room, monday) {
  const seal = signed.seal;
  fillWhenChanged($("#sealed"), [signed, room, monday], () => [
    el("strong", { class: "sealed-words" }, "已签字封存 signed and sealed"),
    ` · 工程师 Engineer: `,
    el("strong", { id: "sealed-engineer" }, signed.engineer),
    ` · ${when(signed.signed_at)} · `,
    seal ? el("span", { id: "seal" }, `封存记录 Sealed record #${seal.seq} · sha256 `, el("code", {}, seal.hash)) : "封存记录缺失 seal missing",
    el("br"),
    el("a", { id: "print-link", href: printUrl(room, monday), target: "_blank" }, "打印版 Printable report"),
    " · ",
    el("a", { id: "download-link", href: printUrl(room, monday, true), download: `inspection-${room}-${monday}.html` }, "下载 Download (HTML)"),
  ]);
  $("#sealed").hidden = false;
  const rows = signed.checklist.map((c) => ({
    attrs: { dataset: { item: c.id, ok: String(c.ok) } },
    cells: [c.text, c.ok ? "✔ 正常 OK" : el("strong", { class: "fail" }, "✘ 异常 Not OK"), c.note || ""],
  }));
  fill($("#signed-checklist"), table(["检查项 Item", "结果 Result", "说明 Note"], rows), el("p", {}, `备注 Notes: ${signed.notes || "—"}`));
}

/**
 * Show the week's sign-off. A signed week shows its seal; a form the engineer has started stays
 * (with a warning) if someone else signed meanwhile, so the answers are not lost from view.
 */
export function renderSignoff({ report, signed }, room) {
  $("#signoff").hidden = false;
  if (!signed) {
    $("#sealed").hidden = true;
    fill($("#signed-checklist"));
    $("#sign-warning").hidden = true;
    showForm(report, room);
    return;
  }
  showSealed(signed, room, report.week_start);
  if (touched() && shown?.key === `${room}/${report.week_start}`) {
    fill($("#sign-warning"), `本周已由 ${signed.engineer} 签字封存；再次签字将被拒绝。This week was signed by ${signed.engineer} meanwhile: another signature will be refused.`);
    $("#sign-warning").hidden = false;
  } else {
    $("#sign-form").hidden = true;
  }
}

function answers() {
  const checklist = {};
  for (const { id } of shown.items) {
    const box = $(`#checklist fieldset[data-item="${CSS.escape(id)}"]`);
    const picked = box.querySelector("input[type=radio]:checked");
    const note = box.querySelector("input.note").value.trim();
    if (picked) checklist[id] = { ok: picked.value === "ok", note: note || null };
  }
  return checklist;
}

async function sign(event) {
  event.preventDefault();
  const error = $("#sign-error");
  const button = $("#sign-submit");
  error.hidden = true;
  button.disabled = true;
  try {
    const notes = $("#sign-notes").value.trim();
    const done = await signWeek(shown.room, shown.monday, { checklist: answers(), notes: notes || null });
    delete $("#sign-form").dataset.touched;
    toast(`已签字封存 Signed and sealed: #${done.signed.seal?.seq ?? "?"}`, "ok");
    await changed();
  } catch (failure) {
    fill(error, failure.message);
    error.hidden = false;
    // Refused because the week is signed already: show its seal too (the answers stay in view).
    if (failure.status === 409) await changed();
  } finally {
    button.disabled = false;
  }
}

/** `onChange()` reloads the page after a signature. */
export function setUpSignoff({ onChange }) {
  changed = onChange;
  const form = $("#sign-form");
  canSign = offer(form, "POST", "/api/inspection/rooms/{room}/weeks/{monday}/sign", { zh: "签字封存巡检记录", en: "sign off an inspection" });
  form.addEventListener("submit", sign);
  form.addEventListener("input", () => {
    form.dataset.touched = "true";
  });
}
