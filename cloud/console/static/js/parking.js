/**
 * The parking booth and card page: live gate activity with the stranger registration, barrier
 * opening, the card list each gate runs, and card management (search, issue, lost, suspend,
 * extend, edit, detail, CSV import). The gate parts refresh every few seconds and whenever an
 * alarm changes (a lost card at a gate raises one), so nobody has to reload.
 */

import { $, fill } from "./dom.js";
import { COMMON_KEYS, startShell } from "./shell.js";
import { hhmm } from "./patrol-labels.js";
import { parkingGet } from "./parking-api.js";
import { renderPasses } from "./parking-passes.js";
import { registerDialog } from "./parking-register.js";
import { renderLanes } from "./parking-lanes.js";
import { renderLists } from "./parking-lists.js";
import { loadCards, setUpCards } from "./parking-cards.js";
import { refreshCard, setUpCardDetail } from "./parking-card-detail.js";
import { setUpIssueForm } from "./parking-issue.js";
import { setUpImport } from "./parking-import.js";
import { showLoadError } from "./report-page.js";

const REFRESH_MS = 3000;
const REGISTRATIONS_EVERY = 10; // refreshes between reloads of today's registrations
const KEYS = COMMON_KEYS.filter(([key]) => ["m", "?", "Esc"].includes(key));
const { live } = startShell({ keys: KEYS });
const lanes = new Set();
const registered = new Set(); // ids of denied passes the booth has answered
let passes = [];
let round = 0;
let loading = null;

function showPasses() {
  renderPasses($("#passes tbody"), passes, { registered, onRegister: register });
}

async function register(pass) {
  const made = await registerDialog(pass);
  if (!made) return;
  registered.add(pass.id);
  showPasses();
}

async function loadRegistrations() {
  const report = await parkingGet("gates/report");
  for (const r of report.registrations) if (r.pass_id !== null) registered.add(r.pass_id);
}

async function load() {
  if (round++ % REGISTRATIONS_EVERY === 0) await loadRegistrations();
  const [latest, lists] = await Promise.all([parkingGet("gates/passes", { limit: 50 }), parkingGet("cards/lists")]);
  passes = latest;
  for (const pass of passes) lanes.add(pass.lane);
  showPasses();
  renderLanes($("#lanes"), lanes);
  renderLists(lists);
  await refreshCard();
  fill($("#refreshed"), hhmm(new Date().toISOString()));
  document.body.dataset.loaded = "true";
}

/** One load at a time: a refresh asked for during one is dropped (the next tick comes soon). */
function refresh() {
  loading ??= load()
    .then(() => {
      $("#load-error").hidden = true;
    })
    .catch(showLoadError)
    .finally(() => {
      loading = null;
    });
  return loading;
}

/** Cards changed: their table, and the lists the gates will load next. */
async function cardsChanged(changed) {
  for (const lane of changed?.lanes ?? []) lanes.add(lane);
  await Promise.all([loadCards(), refresh()]);
}

async function start() {
  const site = new URLSearchParams(location.search).get("site");
  $("#report-link").href = `/parking/report${site ? `?site=${encodeURIComponent(site)}` : ""}`;
  setUpCardDetail();
  setUpCards({ changed: cardsChanged });
  setUpIssueForm({ issued: cardsChanged });
  setUpImport({ imported: () => cardsChanged() });
  live.addEventListener("change", refresh);
  setInterval(refresh, REFRESH_MS);
  for (const card of await loadCards()) for (const lane of card.lanes ?? []) lanes.add(lane);
  await refresh();
}

start().catch(showLoadError);
