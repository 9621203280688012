/**
 * 泵房 The pump-room pages: /pumproom lists the rooms (one room: straight to it); /pumproom/{room}
 * shows every device now, this week's report as it builds up, its sign-off and the history;
 * /pumproom/{room}/weeks/{monday} shows one week the same way. Live status refreshes every few
 * seconds, the report every minute, and both on any alarm change of the room.
 */

import { $, countRun, el, fill, fillWhenChanged } from "./dom.js";
import { COMMON_KEYS, startShell } from "./shell.js";
import { hhmm } from "./patrol-labels.js";
import { showLoadError } from "./report-page.js";
import { getCurrent, getHistory, getRooms, getWeek, pageTarget, roomPage, roomsPage, weekPage } from "./pumproom-api.js";
import { renderRooms } from "./pumproom-rooms.js";
import { renderStatus } from "./pumproom-status.js";
import { renderReport } from "./pumproom-report.js";
import { renderSignoff, setUpSignoff } from "./pumproom-sign.js";
import { renderHistory } from "./pumproom-history.js";

const STATUS_MS = 5000;
const REPORT_MS = 60000;
const KEYS = COMMON_KEYS.filter(([key]) => ["m", "?", "Esc"].includes(key));
const { live } = startShell({ keys: KEYS });
const target = pageTarget();
let room = null; // the room as /api/inspection/rooms lists it
let lows = {}; // supply-line low limits by device, from the report
let weekDone = false; // a signed or finished week no longer builds up

/**
 * One run at a time; asked again meanwhile, it runs once more after. Errors show on the page.
 * `name`: the runs done are counted in the body's data-{name}-runs (countRun).
 */
function singleFlight(name, work) {
  let running = null;
  let again = false;
  return function run() {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await work();
          $("#load-error").hidden = true;
          fill($("#refreshed"), hhmm(new Date().toISOString()));
          countRun(name);
        } catch (error) {
          showLoadError(error);
        }
      } while (again);
    })().finally(() => {
      running = null;
    });
    return running;
  };
}

async function loadRoom() {
  const rooms = await getRooms();
  room = rooms.find((r) => r.id === target.room);
  if (!room) throw new Error(`泵房 ${target.room} 未配置 pump room not configured`);
  return room;
}

function lastWeekBanner() {
  const banner = $("#last-week-banner");
  banner.hidden = room.last_week_signed;
  if (!room.last_week_signed) {
    fillWhenChanged(banner, [room.id, room.last_week], () => [
      el("strong", {}, `上周 Last week (${room.last_week}) 未签字 is not signed`),
      " — ",
      el("a", { id: "last-week-link", href: weekPage(room.id, room.last_week) }, "去签字 Sign it"),
    ]);
  }
}

const refreshStatus = singleFlight("status", async () => {
  await loadRoom();
  fill($("#status-room"), room.name);
  renderStatus($("#status-devices"), room, lows);
  lastWeekBanner();
  $("#status").hidden = false;
});

const refreshReport = singleFlight("report", async () => {
  if (!room) await loadRoom();
  const [found, history] = await Promise.all([target.monday ? getWeek(room.id, target.monday) : getCurrent(room.id), getHistory(room.id)]);
  const { report, signed } = found;
  lows = Object.fromEntries(report.supply.map((s) => [s.device, s.low]));
  if (!target.monday) renderStatus($("#status-devices"), room, lows); // the low limits, at once
  fill($("#site-name"), report.site.name);
  const names = new Map(room.devices.map((d) => [d.id, d.name]));
  const leakDevices = room.devices.filter((d) => Object.keys(d.points).some((p) => p.startsWith("zone"))).map((d) => d.id);
  renderReport(found, { room: room.id, names, leakDevices });
  renderSignoff(found, room.id);
  renderHistory($("#history tbody"), room.id, history, report.week_start);
  $("#history").hidden = false;
  weekDone = Boolean(signed) || report.complete;
  document.body.dataset.loaded = "true";
});

/** An alarm of the room's node (or its overdue sign-off alarm) may change what the page shows. */
function concernsRoom(detail) {
  if (detail.snapshot || !room) return true;
  const alarm = detail.alarm;
  return alarm && (alarm.node === room.node || alarm.device === room.id);
}

async function listRooms() {
  const rooms = await getRooms();
  if (rooms.length === 1) {
    location.replace(roomPage(rooms[0].id));
    return;
  }
  renderRooms($("#rooms tbody"), rooms);
  $("#rooms").hidden = false;
  $("#rooms-link").hidden = true;
  document.body.dataset.loaded = "true";
}

function start() {
  if (!target.room) {
    singleFlight("rooms", listRooms)();
    return;
  }
  $("#rooms-link").href = roomsPage();
  setUpSignoff({ onChange: refreshReport });
  if (target.monday) {
    const back = $("#room-link");
    back.href = roomPage(target.room);
    fill(back, "· 本周与当前状态 This week and the live status");
    back.hidden = false;
    setInterval(() => weekDone || refreshReport(), REPORT_MS);
  } else {
    setInterval(refreshStatus, STATUS_MS);
    setInterval(refreshReport, REPORT_MS);
  }
  live.addEventListener("change", (event) => {
    if (!concernsRoom(event.detail)) return;
    if (!target.monday) refreshStatus();
    refreshReport();
  });
  if (target.monday) refreshReport();
  else refreshStatus().then(refreshReport);
}

start();
