/**
 * The live patrol board: tours in progress and where each guard is, the next due rounds, today's
 * late, missed and not-started tours, the 24-hour coverage of each route, and the incident form.
 * Refreshed every few seconds and whenever the alarm stream says something changed (a patrol
 * alarm means a tour changed), so nobody has to reload.
 */

import { $, countRun, el, fill } from "./dom.js";
import { COMMON_KEYS, startShell } from "./shell.js";
import { OUTCOMES, hhmm, slotWords } from "./patrol-labels.js";
import { label } from "./labels.js";
import { patrolGet } from "./patrol-api.js";
import { offerTours, renderIncidents, setUpIncidentForm } from "./patrol-incident.js";
import { renderTimeline } from "./patrol-timeline.js";

const REFRESH_MS = 5000;
const KEYS = COMMON_KEYS.filter(([key]) => ["m", "?", "Esc"].includes(key));
const { live } = startShell({ keys: KEYS });
let loading = null;
let again = false;
let soonTimer = null;

function inProgressRow(t) {
  const tour = t.tour;
  const lone = t.lone_worker
    ? el("span", { class: "flag lone" }, "⚠ 长时间未打卡 Silent (lone worker)")
    : null;
  const overdue = t.next_window_to && Date.parse(t.next_window_to) < Date.now();
  return el(
    "tr",
    { class: t.lone_worker ? "lone" : "", dataset: { tourId: tour.id, guard: tour.guard ?? "" } },
    el("td", { class: "guard" }, tour.guard_name ?? "", lone ? [" ", lone] : null),
    el("td", {}, tour.route_name, el("div", { class: "sub" }, slotWords(tour))),
    el("td", {}, hhmm(tour.started_at)),
    el("td", { class: "last" }, t.last_checkpoint_name ?? "—", el("div", { class: "sub" }, hhmm(t.last_tap_at))),
    el(
      "td",
      { class: `next${overdue ? " overdue" : ""}` },
      t.next_checkpoint_name ?? "—",
      t.next_expected_at ? el("div", { class: "sub" }, `预计 expected ${hhmm(t.next_expected_at)}`) : null,
    ),
    el("td", {}, hhmm(t.next_due_by)),
    el("td", { class: "progress" }, `${tour.checkpoints - pending(tour)}/${tour.checkpoints}`),
  );
}

const pending = (tour) => tour.checkpoints - tour.on_time - tour.early - tour.late - tour.out_of_order - tour.missed;

function renderBoard(board) {
  fill($("#site-name"), board.site_name);
  fill(
    $("#in-progress tbody"),
    board.in_progress.length
      ? board.in_progress.map(inProgressRow)
      : el("tr", {}, el("td", { colspan: 7, class: "muted" }, "当前无人巡逻 Nobody on tour")),
  );
  fill(
    $("#next-due tbody"),
    board.next_due.map((due) =>
      el(
        "tr",
        { dataset: { route: due.route } },
        el("td", {}, due.route_name),
        el(
          "td",
          {},
          due.slots.length
            ? due.slots.map((s) =>
                el(
                  "span",
                  { class: `chip slot${s.open ? " open" : ""}`, dataset: { open: String(s.open) }, title: `${hhmm(s.window_from)}–${hhmm(s.window_to)}` },
                  hhmm(s.at),
                  s.open ? " · 现在可开始 open now" : "",
                ),
              )
            : el("span", { class: "muted" }, "无计划 Not scheduled"),
        ),
      ),
    ),
  );
  fill(
    $("#attention tbody"),
    board.attention.length
      ? board.attention.map((t) =>
          el(
            "tr",
            { class: `outcome-${t.outcome}`, dataset: { tourId: t.id, outcome: t.outcome } },
            el("td", {}, t.route_name),
            el("td", {}, slotWords(t)),
            el("td", {}, t.guard_name ?? "—"),
            el("td", {}, hhmm(t.started_at)),
            el("td", { class: "outcome" }, el("span", { class: `pill outcome-${t.outcome}` }, label(OUTCOMES, t.outcome))),
            el("td", {}, `${t.late} / ${t.out_of_order} / ${t.missed}`),
          ),
        )
      : el("tr", {}, el("td", { colspan: 6, class: "muted" }, "今日无异常 Nothing wrong today")),
  );
  offerTours(board.in_progress.map((t) => t.tour));
  const dateInput = $("#timeline-date");
  if (!dateInput.value) dateInput.value = board.day;
}

async function load() {
  const board = await patrolGet("board");
  renderBoard(board);
  const [timeline, incidents] = await Promise.all([
    patrolGet("timeline", { date: $("#timeline-date").value }),
    patrolGet("incidents", { from: board.day }),
  ]);
  renderTimeline($("#timeline"), $("#timeline-legend"), timeline);
  renderIncidents($("#incidents tbody"), incidents);
  fill($("#refreshed"), hhmm(new Date().toISOString()));
  document.body.dataset.loaded = "true";
}

/** One load at a time; a request during one runs once more after it. */
async function refresh() {
  if (loading) {
    again = true;
    return loading;
  }
  loading = load()
    .then(() => {
      $("#load-error").hidden = true;
      countRun();
    })
    .catch((error) => {
      fill($("#load-error"), `加载失败 Could not load: ${error.message}`);
      $("#load-error").hidden = false;
    })
    .finally(() => {
      loading = null;
      if (again) {
        again = false;
        refresh();
      }
    });
  return loading;
}

/** A burst of alarm changes (a tour finishing clears several) refreshes once. */
function refreshSoon() {
  clearTimeout(soonTimer);
  soonTimer = setTimeout(refresh, 200);
}

async function start() {
  const checkpoints = await patrolGet("checkpoints");
  setUpIncidentForm({ checkpoints, onReported: refresh });
  const range = new URLSearchParams(location.search);
  $("#report-link").href = `/patrol/report${range.get("site") ? `?site=${encodeURIComponent(range.get("site"))}` : ""}`;
  $("#timeline-date").addEventListener("change", refresh);
  live.addEventListener("change", refreshSoon);
  setInterval(refresh, REFRESH_MS);
  await refresh();
}

start().catch((error) => {
  fill($("#load-error"), `加载失败 Could not load: ${error.message}`);
  $("#load-error").hidden = false;
});
