/**
 * The parking booth and card page: live gate activity with the stranger registration, barrier
 * opening on each of the site's lanes, the card list each gate runs, and card management
 * (search, issue, lost, suspend,
 * extend, edit, detail, CSV import). The gate parts refresh every few seconds and whenever an
 * alarm changes (a lost card at a gate raises one), so nobody has to reload.
 */

import { $, countRun, fill } from "./dom.js";
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
import { explain, offer } from "./permissions.js";
import { mayChangeCards } from "./parking-card-actions.js";

const REFRESH_MS = 3000;
const KEYS = COMMON_KEYS.filter(([key]) => ["m", "?", "Esc"].includes(key));
const { live } = startShell({ keys: KEYS });
const registered = new Set(); // ids of denied passes the booth has answered
let passes = [];
let loading = null;
// What the viewer's role may do here; the rest is left out with a hint (the server checks anyway).
const canRegister = explain($("#passes"), "POST", "/api/gates/registrations", {
  zh: "登记陌生车辆放行",
  en: "register a stranger vehicle and let it through",
});

function showPasses() {
  renderPasses($("#passes tbody"), passes, { registered, onRegister: canRegister ? register : null });
}

async function register(pass) {
  const made = await registerDialog(pass);
  if (!made) return;
  registered.add(pass.id);
  showPasses();
}

/** Which of the passes shown the booth has registered: registrations since the oldest of them. */
async function loadRegistrations() {
  if (!passes.length) return;
  const since = passes.reduce((oldest, p) => (p.at < oldest ? p.at : oldest), passes[0].at);
  const found = await parkingGet("gates/registrations", { since, limit: 5000 });
  for (const r of found) if (r.pass_id !== null) registered.add(r.pass_id);
}

async function load() {
  const [latest, lists] = await Promise.all([parkingGet("gates/passes", { limit: 50 }), parkingGet("cards/lists")]);
  passes = latest;
  await loadRegistrations();
  showPasses();
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
      countRun();
    })
    .catch(showLoadError)
    .finally(() => {
      loading = null;
    });
  return loading;
}

/** Cards changed: their table, and the lists the gates will load next. */
async function cardsChanged() {
  await Promise.all([loadCards(), refresh()]);
}

async function start() {
  const site = new URLSearchParams(location.search).get("site");
  $("#report-link").href = `/parking/report${site ? `?site=${encodeURIComponent(site)}` : ""}`;
  offer($("#lanes"), "POST", "/api/gates/{lane}/open", { zh: "开闸", en: "open a barrier" });
  offer($("#issue-form"), "POST", "/api/cards", { zh: "发卡", en: "issue cards" });
  offer($("#import-form"), "POST", "/api/cards/import", { zh: "导入卡片", en: "import cards" });
  if (!mayChangeCards()) {
    explain($("#cards"), "PATCH", "/api/cards/{card_id}", { zh: "修改、挂失、停用或续期卡片", en: "edit, report lost, suspend or extend cards" });
  }
  setUpCardDetail();
  setUpCards({ changed: cardsChanged });
  setUpIssueForm({ issued: cardsChanged });
  setUpImport({ imported: () => cardsChanged() });
  live.addEventListener("change", refresh);
  setInterval(refresh, REFRESH_MS);
  renderLanes($("#lanes"), await parkingGet("gates/lanes"));
  await Promise.all([loadCards(), refresh()]);
}

start().catch(showLoadError);
