/** The live alarm list: filters (in the URL), keyed rows, selection, keyboard and bulk acknowledge. */

import { actionButtons, actionByKey, mayRun, runAction } from "./actions.js";
import { acknowledgeMany } from "./api.js";
import { confirmDialog } from "./dialogs.js";
import { $, el, fill, typing } from "./dom.js";
import { renderKpis } from "./kpis.js";
import { NodeStrip } from "./nodes.js";
import { steady } from "./steady.js";
import {
  CATEGORIES,
  PRIORITIES,
  STATES,
  compareAlarms,
  conditionWords,
  deviceWords,
  formatAge,
  formatTime,
  formatValue,
  label,
  stateWords,
} from "./labels.js";
import { COMMON_KEYS, startShell } from "./shell.js";
import { toast } from "./toast.js";

const OPEN_STATES = ["unacknowledged", "rtn_unacknowledged", "acknowledged", "shelved", "suppressed", "out_of_service"];
// Held alarms (shelved, suppressed, out of service) stay on the list by default, at the bottom,
// with who held them and why; their chips take them off.
const DEFAULT_STATES = OPEN_STATES;
const needsAck = (a) => a.state === "unacknowledged" || a.state === "rtn_unacknowledged";

const KEYS = [
  ["↓ / j", "下一条 Next alarm"],
  ["↑ / k", "上一条 Previous alarm"],
  ["Enter", "打开详情 Open the alarm's detail"],
  ["A", "确认全部可见报警 Acknowledge all visible"],
  ["f", "筛选 Go to the filters"],
  ...COMMON_KEYS,
];

const { live } = startShell({ keys: KEYS });
// The strip's node list also gives the site filter every configured site, alarms or not.
const nodeStrip = new NodeStrip($("#nodes"), (nodes) => {
  sites = [...new Set(nodes.map((n) => n.site))];
  renderFilters();
});
const tbody = $("#alarms tbody");
const rows = new Map(); // id → {tr, json}
const arrived = new Set(); // ids that came in on the stream since the page loaded: they flash once
let selectedId = null;
let selectedIndex = 0;
let visible = [];
let sites = [];
let loaded = false; // a snapshot has arrived: an empty list now means no alarms

// ---- filters, kept in the URL so a link keeps them -------------------------------------------

const filters = readFilters();

function readFilters() {
  const params = new URLSearchParams(location.search);
  const states = params.getAll("state").filter((s) => s === "all" || OPEN_STATES.includes(s));
  return {
    site: params.get("site") || "",
    area: params.get("area") || "",
    category: params.get("category") || "",
    states: new Set(states.includes("all") ? OPEN_STATES : states.length ? states : DEFAULT_STATES),
  };
}

function writeFilters() {
  const params = new URLSearchParams();
  for (const key of ["site", "area", "category"]) if (filters[key]) params.set(key, filters[key]);
  const states = OPEN_STATES.filter((s) => filters.states.has(s));
  const isDefault = states.length === DEFAULT_STATES.length && DEFAULT_STATES.every((s) => filters.states.has(s));
  if (!isDefault) for (const s of states) params.append("state", s);
  const query = params.toString();
  history.replaceState(null, "", query ? `?${query}` : location.pathname);
  sessionStorage.setItem("sitewatch.list", location.pathname + location.search);
}

const matches = (a) =>
  (!filters.site || a.site === filters.site) &&
  (!filters.area || a.area === filters.area) &&
  (!filters.category || a.category === filters.category) &&
  filters.states.has(a.state);

/** Rebuild a select's options only when they change, so an open drop-down is not reset. */
function setOptions(select, values, all, chosen) {
  const wanted = [["", all], ...values.map((v) => [v, v])];
  const current = [...select.options].map((o) => [o.value, o.textContent]);
  if (JSON.stringify(wanted) !== JSON.stringify(current)) {
    fill(select, wanted.map(([value, text]) => el("option", { value }, text)));
  }
  select.value = chosen;
}

function renderFilters() {
  const all = [...live.alarms.values()];
  const siteValues = [...new Set([...sites, ...all.map((a) => a.site), filters.site].filter(Boolean))].sort();
  const areaValues = [...new Set([...all.map((a) => a.area), filters.area].filter(Boolean))].sort();
  setOptions($("#filter-site"), siteValues, "全部站点 All sites", filters.site);
  setOptions($("#filter-area"), areaValues, "全部区域 All areas", filters.area);
  $("#filter-category").value = filters.category;
  const counts = {};
  for (const a of all) counts[a.state] = (counts[a.state] ?? 0) + 1;
  for (const chip of document.querySelectorAll("#filter-states button")) {
    const state = chip.dataset.state;
    chip.setAttribute("aria-pressed", String(filters.states.has(state)));
    chip.querySelector(".count").textContent = String(counts[state] ?? 0);
  }
}

function buildFilters() {
  const chips = $("#filter-states");
  fill(
    chips,
    OPEN_STATES.map((state) =>
      el(
        "button",
        {
          type: "button",
          class: `chip state-chip state-${state}`,
          dataset: { state },
          "aria-pressed": "false",
          onclick: () => {
            if (filters.states.has(state)) filters.states.delete(state);
            else filters.states.add(state);
            changed();
          },
        },
        label(STATES, state),
        " ",
        el("span", { class: "count" }, "0"),
      ),
    ),
  );
  fill(
    $("#filter-category"),
    el("option", { value: "" }, "全部类别 All categories"),
    Object.entries(CATEGORIES).map(([value, text]) => el("option", { value }, text)),
  );
  for (const key of ["site", "area", "category"]) {
    $(`#filter-${key}`).addEventListener("change", (event) => {
      filters[key] = event.target.value;
      changed();
    });
  }
  $("#filter-clear").addEventListener("click", () => {
    Object.assign(filters, { site: "", area: "", category: "", states: new Set(DEFAULT_STATES) });
    changed();
  });
}

function changed() {
  writeFilters();
  render();
}

// ---- rows ------------------------------------------------------------------------------------

function cells(a) {
  return [
    el("td", { class: "category" }, el("span", { class: `badge cat-${a.category}` }, label(CATEGORIES, a.category))),
    el("td", { class: `priority prio-${a.priority}` }, label(PRIORITIES, a.priority)),
    el(
      "td",
      { class: "text" },
      el("span", { class: "alarm-text" }, a.text),
      a.latched ? el("span", { class: "tag latched", title: "锁存，需复位 Latched until reset" }, "🔒") : null,
      a.last_comment ? el("div", { class: "comment" }, `💬 ${a.last_comment.by}: ${a.last_comment.note}`) : null,
    ),
    el("td", { class: "device" }, deviceWords(a), el("div", { class: "sub" }, a.node)),
    el("td", { class: "area" }, a.area ?? ""),
    el("td", { class: "value" }, formatValue(a.value)),
    el(
      "td",
      { class: "state", dataset: { state: a.state } },
      el("span", { class: "state-words" }, stateWords(a)),
      el("div", { class: `sub ${a.active ? "active" : "cleared"}` }, conditionWords(a)),
      a.acked_by ? el("div", { class: "sub" }, `✔ ${a.acked_by} ${formatTime(a.acked_at, { date: false })}`) : null,
      a.state === "shelved" && a.shelve_reason ? el("div", { class: "sub" }, `${a.shelved_by ?? ""}: ${a.shelve_reason}`) : null,
      a.out_of_service ? el("div", { class: "sub" }, `${a.out_of_service.by}: ${a.out_of_service.reason}`) : null,
    ),
    el(
      "td",
      { class: "time" },
      formatTime(a.raised_at),
      el("div", { class: "sub age", dataset: { raised: a.raised_at } }, formatAge(a.raised_at)),
    ),
    el(
      "td",
      { class: "row-actions" },
      needsAck(a) && mayRun(actionByKey("a"))
        ? el(
            "button",
            {
              type: "button",
              class: "action action-acknowledge",
              dataset: { action: "acknowledge" },
              onclick: (event) => {
                event.stopPropagation();
                runAction(actionByKey("a"), a, apply);
              },
            },
            "确认 Ack",
          )
        : null,
      el("a", { class: "details", href: `/alarms/${a.id}`, onclick: (event) => event.stopPropagation() }, "详情 Details"),
    ),
  ];
}

function row(a) {
  const json = JSON.stringify(a);
  let entry = rows.get(a.id);
  if (!entry) {
    const tr = el("tr", { dataset: { alarmId: a.id } });
    if (arrived.delete(a.id)) {
      tr.dataset.fresh = "true";
      setTimeout(() => delete tr.dataset.fresh, 4000);
    }
    tr.addEventListener("click", () => select(a.id));
    tr.addEventListener("dblclick", () => open(a.id));
    entry = { tr, json: "" };
    rows.set(a.id, entry);
  }
  if (entry.json !== json) {
    entry.json = json;
    const tr = entry.tr;
    tr.className = `cat-${a.category} state-${a.state}${a.active ? "" : " cleared"}`;
    Object.assign(tr.dataset, { state: a.state, category: a.category, active: String(a.active) });
    fill(tr, cells(a));
  }
  return entry.tr;
}

function render() {
  steady("filters", renderFilters);
  visible = [...live.alarms.values()].filter(matches).sort(compareAlarms);
  const ids = new Set(visible.map((a) => a.id));
  for (const [id, entry] of rows) {
    if (!ids.has(id)) {
      entry.tr.remove();
      rows.delete(id);
    }
  }
  visible.forEach((a, i) => {
    const tr = row(a);
    // Move only rows out of place, so a row under the pointer is not needlessly re-inserted.
    if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] ?? null);
  });
  if (selectedId !== null && !ids.has(selectedId)) {
    // The selected alarm left the view (reset, filtered): select its neighbour.
    selectedId = visible.length ? visible[Math.min(selectedIndex, visible.length - 1)].id : null;
  }
  for (const [id, entry] of rows) entry.tr.setAttribute("aria-selected", String(id === selectedId));
  selectedIndex = Math.max(0, visible.findIndex((a) => a.id === selectedId));
  const unacked = visible.filter(needsAck).length;
  const hidden = live.alarms.size - visible.length;
  $("#summary").textContent =
    `显示 ${visible.length} 条，未确认 ${unacked} 条 Showing ${visible.length}, ${unacked} unacknowledged` +
    (hidden ? ` · 已筛除 ${hidden} hidden by filters` : "");
  $("#empty").hidden = visible.length > 0;
  $("#empty").textContent = loaded ? "无报警 No alarms" : "加载中 Loading…";
  renderActionBar();
}

let actionBarKey = "";

function renderActionBar() {
  const alarm = live.alarms.get(selectedId);
  const key = alarm ? JSON.stringify(alarm) : "none";
  if (key === actionBarKey) return;
  actionBarKey = key;
  fill(
    $("#selected-actions"),
    alarm
      ? [
          el("span", { class: "selected-text" }, "已选 Selected: ", el("strong", {}, alarm.text), ` — ${deviceWords(alarm)}`),
          actionButtons(alarm, apply),
          el("a", { class: "details", href: `/alarms/${alarm.id}` }, "详情 Details ", el("kbd", {}, "Enter")),
        ]
      : el("span", { class: "muted" }, "用 ↑/↓ 或 j/k 选择报警，? 查看快捷键 Select an alarm with ↑/↓ or j/k; ? for keys"),
  );
}

function apply(alarm) {
  live.apply(alarm);
}

function select(id) {
  selectedId = id;
  render();
  rows.get(id)?.tr.scrollIntoView({ block: "nearest" });
}

function move(step) {
  if (!visible.length) return;
  // With nothing selected, down starts at the top and up at the bottom.
  const from = selectedId === null ? (step > 0 ? -1 : visible.length) : selectedIndex;
  const index = from + step;
  select(visible[Math.max(0, Math.min(visible.length - 1, index))].id);
}

function open(id) {
  writeFilters();
  location.assign(`/alarms/${id}`);
}

async function acknowledgeVisible() {
  const ids = visible.filter(needsAck).map((a) => a.id);
  if (!ids.length) {
    toast("没有待确认的可见报警 No visible alarm waits for acknowledgement", "info");
    return;
  }
  await confirmDialog({
    id: "dialog-acknowledge-all",
    title: "确认全部可见报警 Acknowledge all visible",
    message: `将确认 ${ids.length} 条报警。Acknowledge ${ids.length} alarm(s) shown by the current filters?`,
    confirmLabel: `确认 ${ids.length} 条 Acknowledge ${ids.length} (Enter)`,
    onConfirm: async () => {
      const result = await acknowledgeMany(ids);
      toast(`已确认 Acknowledged ${result.acknowledged.length}`, "ok");
      for (const refused of result.refused) {
        const text = live.alarms.get(refused.id)?.text ?? `#${refused.id}`;
        toast(`未确认 Not acknowledged: ${text}: ${refused.detail}`, "error");
      }
      return result;
    },
  });
}

document.addEventListener("keydown", (event) => {
  if (typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key;
  // Enter on a focused button or link is that control's own click.
  if (key === "Enter" && event.target instanceof Element && event.target.closest("button, a")) return;
  if (key === "ArrowDown" || key === "j") move(1);
  else if (key === "ArrowUp" || key === "k") move(-1);
  else if (key === "Home") move(-Infinity);
  else if (key === "End") move(Infinity);
  else if (key === "Enter" && selectedId !== null) open(selectedId);
  else if (key === "A") acknowledgeVisible();
  else if (key === "f") $("#filter-site").focus();
  else if (actionByKey(key)) {
    const alarm = live.alarms.get(selectedId);
    if (alarm) runAction(actionByKey(key), alarm, apply);
    else toast("先选择报警 Select an alarm first (↑/↓ or j/k)", "info");
  } else return;
  event.preventDefault();
});

document.addEventListener("keydown", (event) => {
  // Esc leaves a filter field and gives the keys back to the list.
  if (event.key === "Escape" && event.target instanceof HTMLSelectElement) event.target.blur();
});

buildFilters();
writeFilters();
$("#acknowledge-all").addEventListener("click", acknowledgeVisible);
live.addEventListener("change", (event) => {
  const { alarm, previous } = event.detail;
  if (alarm && !previous) arrived.add(alarm.id);
  if (event.detail.snapshot) loaded = true;
  render();
  if (event.detail.snapshot || alarm?.category === "trouble") nodeStrip.refresh();
});
live.addEventListener("kpis", () => steady("kpis", () => renderKpis($("#kpis"), live.kpis)));
// Ages ("5 min ago") follow the clock; this reads no data.
setInterval(() => {
  for (const node of document.querySelectorAll(".age")) node.textContent = formatAge(node.dataset.raised);
}, 15000);
render();


