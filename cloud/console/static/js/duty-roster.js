/**
 * 排班 The roster of today's and tomorrow's shifts (site-local days): who is on each, edited as
 * names and saved with PUT /api/duty/roster/{shift}/{day}; a shift with fewer than 2 is flagged
 * (GB 25201), and the violations GET /api/duty/status reports show beside the editor. Operators,
 * managers and admins may edit; other roles see the violations only.
 *
 * The API reads back the roster of the shifts the status names (on duty, scheduled, pending);
 * for the others the page shows what it saved, else the site file's usual roster.
 */

import { send, siteUrl } from "./api.js";
import { $, el, fill, submitting } from "./dom.js";
import { dutyGet } from "./duty-api.js";
import { namesOf } from "./duty-labels.js";
import { offer } from "./permissions.js";
import { toast } from "./toast.js";

const MIN_STAFF = 2;
let shifts = null; // the site's shifts in start order (GET /api/duty/shifts)
let canEdit = true;
let changed = async () => {};
const saved = new Map(); // "shift/day" -> staff, as the server answered a save

const keyOf = (shift, day) => `${shift}/${day}`;
const dayAfter = (day) => new Date(Date.parse(`${day}T00:00:00Z`) + 86400000).toISOString().slice(0, 10);

/**
 * Today at the site: a shift instance says its local day and start time and its UTC start, so the
 * site's offset from UTC is known without its time zone; else the browser's own day.
 */
function siteToday(status) {
  const shown = status.on_duty ?? status.scheduled;
  const def = shown && shifts.find((s) => s.id === shown.id);
  if (def) {
    const [hh, mm] = def.start.split(":").map(Number);
    const [y, m, d] = shown.date.split("-").map(Number);
    const offset = Date.UTC(y, m - 1, d, hh, mm) - Date.parse(shown.start);
    return new Date(Date.now() + offset).toISOString().slice(0, 10);
  }
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}-${String(now.getDate()).padStart(2, "0")}`;
}

/** What the server last told of each shift instance: the status's shifts, then this page's saves. */
function known(status) {
  const found = new Map(saved);
  const named = [status.on_duty, status.scheduled, status.pending?.outgoing, status.pending?.incoming];
  for (const shift of named) if (shift) found.set(keyOf(shift.id, shift.date), { staff: shift.staff, source: "status" });
  return found;
}

function staffWords(staff) {
  return staff.length ? staff.join(", ") : "—";
}

function flag(row, staff) {
  const thin = staff.length < MIN_STAFF;
  row.dataset.thin = String(thin);
  fill(
    row.querySelector(".roster-flag"),
    thin ? el("span", { class: "flag" }, `少于${MIN_STAFF}人 Fewer than ${MIN_STAFF} (GB 25201)`) : null,
  );
}

async function save(row, shift, day) {
  const input = row.querySelector("input");
  await submitting(row.querySelector("button"), row.querySelector(".error"), async () => {
    const made = await send("PUT", siteUrl(`duty/roster/${encodeURIComponent(shift.id)}/${day}`), { staff: namesOf(input.value) });
    saved.set(keyOf(shift.id, day), { staff: made.staff, source: "saved" });
    delete input.dataset.touched;
    toast(`已排班 Roster saved: ${made.name} ${made.date}: ${staffWords(made.staff)}`, "ok");
    await changed();
  });
}

function row(shift, day) {
  const id = `roster-${shift.id}-${day}`;
  const input = el("input", { id, name: "staff", maxlength: 400, "aria-label": `人员 Staff: ${shift.name} ${day}` });
  input.addEventListener("input", () => {
    input.dataset.touched = "true";
  });
  const made = el(
    "tr",
    { dataset: { shift: shift.id, day } },
    el("td", { class: "day" }, day),
    el("td", { class: "shift" }, el("strong", {}, shift.name), el("div", { class: "sub" }, `${shift.start}–${shift.end}`)),
    el("td", { class: "staff" }, el("span", { class: "staff-now" }), el("div", { class: "roster-flag" })),
    el(
      "td",
      {},
      el("form", { class: "roster-form" }, input, el("button", { type: "submit" }, "保存 Save"), el("p", { class: "error", role: "alert", hidden: true })),
    ),
  );
  made.querySelector("form").addEventListener("submit", (event) => {
    event.preventDefault();
    save(made, shift, day);
  });
  return made;
}

/** Re-read with the status: rows are rebuilt only when the days change, so typing survives a refresh. */
export async function renderRoster(status) {
  const list = $("#roster-violations");
  list.hidden = !status.violations.length;
  fill(list, status.violations.map((words) => el("li", {}, words)));
  if (!canEdit) return;
  shifts ??= (await dutyGet("shifts")).shifts;
  const today = siteToday(status);
  const days = [today, dayAfter(today)];
  const tbody = $("#roster-table tbody");
  if (tbody.dataset.days !== days.join(",")) {
    tbody.dataset.days = days.join(",");
    fill(
      tbody,
      shifts.length ? days.flatMap((day) => shifts.map((shift) => row(shift, day))) : el("tr", {}, el("td", { colspan: 4, class: "muted" }, "未配置班次 No shifts (duty.shifts in the site file)")),
    );
  }
  const found = known(status);
  for (const tr of tbody.querySelectorAll("tr[data-shift]")) {
    const shift = shifts.find((s) => s.id === tr.dataset.shift);
    const now = found.get(keyOf(shift.id, tr.dataset.day)) ?? { staff: shift.staff ?? [], source: "site" };
    fill(tr.querySelector(".staff-now"), staffWords(now.staff), now.source === "site" ? el("span", { class: "sub" }, " (站点文件 site file)") : null);
    flag(tr, now.staff);
    const input = tr.querySelector("input");
    if (!input.dataset.touched && document.activeElement !== input) input.value = now.staff.join(", ");
  }
}

/** `onChange()` reloads the page after a roster is saved (the status's violations change). */
export function setUpRoster({ onChange }) {
  changed = onChange;
  canEdit = offer($("#roster-table"), "PUT", "/api/duty/roster/{shift}/{day}", { zh: "排班", en: "edit the roster" });
}
