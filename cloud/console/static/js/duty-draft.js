/**
 * A handover draft in words: alarms raised and handled, alarms still open with their handling,
 * equipment out of service, patrol results, gate anomalies, overdue status checks and the
 * shift's log. The same rendering on the duty page (before signing) and on the sealed record.
 */

import { el } from "./dom.js";
import { CATEGORIES, EVENTS, STATES, label } from "./labels.js";
import { REASONS } from "./parking-labels.js";
import { KINDS, minute } from "./duty-labels.js";

const TOURS = { completed: "已完成 Completed", incomplete: "未完成 Missed", not_started: "未开始 Not started" };
const none = (colspan) => el("tr", {}, el("td", { colspan, class: "muted" }, "无 None"));

function table(id, head, rows) {
  return el(
    "table",
    { class: "grid draft-table", dataset: { table: id } },
    el("thead", {}, el("tr", {}, head.map((words) => el("th", {}, words)))),
    el("tbody", {}, rows.length ? rows : none(head.length)),
  );
}

function handlingWords(handling) {
  if (!handling.length) return el("span", { class: "muted" }, "尚未处理 Not handled yet");
  return el(
    "ul",
    { class: "handling" },
    handling.map((h) => el("li", {}, `${minute(h.at)} ${label(EVENTS, h.event)} · ${h.by}${h.note ? ` · ${h.note}` : ""}`)),
  );
}

function alarms(id, list) {
  return table(
    id,
    ["报警时间 Raised", "类别 Category", "报警 Alarm", "位置 Where", "状态 State", "处理 Handling"],
    list.map((a) =>
      el(
        "tr",
        { dataset: { alarmId: a.id } },
        el("td", {}, minute(a.raised_at)),
        el("td", {}, label(CATEGORIES, a.category)),
        el("td", {}, `#${a.id} ${a.text}`),
        el("td", {}, [a.where, a.location].filter(Boolean).join(" · ")),
        el("td", {}, label(STATES, a.state)),
        el("td", {}, handlingWords(a.handling)),
      ),
    ),
  );
}

function outOfService(list) {
  return table(
    "out_of_service",
    ["设备 Equipment", "原因 Reason", "停用人 By", "停用时间 Since"],
    list.map((t) => el("tr", {}, el("td", {}, `${t.node} / ${t.device}`), el("td", {}, t.reason ?? ""), el("td", {}, t.by ?? ""), el("td", {}, minute(t.since)))),
  );
}

function patrol(p) {
  return el(
    "div",
    { class: "patrol-summary" },
    el("p", { class: "counts" }, `完成 Done ${p.done} · 迟到 Late ${p.late} · 未完成 Missed ${p.missed} · 未开始 Not started ${p.not_started}`),
    table(
      "patrol_problems",
      ["路线 Route", "计划 Due", "保安 Guard", "结果 Outcome"],
      p.problems.map((t) =>
        el(
          "tr",
          { dataset: { tour: t.tour } },
          el("td", {}, t.route),
          el("td", {}, minute(t.scheduled_at)),
          el("td", {}, t.guard ?? "—"),
          el("td", {}, label(TOURS, t.status), t.late ? " · 迟到 late" : ""),
        ),
      ),
    ),
  );
}

function gates(g) {
  const counts = Object.entries(g.by_reason).map(([reason, n]) => `${label(REASONS, reason)}: ${n}`);
  return el(
    "div",
    { class: "gates-summary" },
    el("p", { class: "counts" }, counts.length ? counts.join(" · ") : "无异常 No anomalies"),
    table(
      "gates_notable",
      ["时间 Time", "车道 Lane", "卡号 Card", "原因 Reason", "放行 Let through", "操作人/备注 By / note"],
      g.notable.map((p) =>
        el(
          "tr",
          {},
          el("td", {}, minute(p.at)),
          el("td", {}, p.lane),
          el("td", {}, p.card ?? "—"),
          el("td", {}, label(REASONS, p.reason)),
          el("td", {}, p.allowed ? "是 Yes" : "否 No"),
          el("td", {}, [p.by, p.note].filter(Boolean).join(" · ")),
        ),
      ),
    ),
  );
}

function overdue(list) {
  return table(
    "overdue_status_checks",
    ["应检查于 Due from", "至 Until"],
    list.map((o) => el("tr", { class: "overdue" }, el("td", {}, minute(o.from)), el("td", {}, minute(o.to)))),
  );
}

/** One log entry's words: its text and, for an alarm handled, the alarm, location, cause, handling. */
export function entryDetails(entry) {
  const alarm = entry.alarm_id
    ? el(
        "dl",
        { class: "alarm-fields" },
        el("dt", {}, "报警 Alarm"),
        el("dd", {}, `#${entry.alarm_id}`),
        el("dt", {}, "位置 Location"),
        el("dd", {}, entry.location ?? ""),
        el("dt", {}, "原因 Cause"),
        el("dd", {}, entry.cause ?? ""),
        el("dt", {}, "处理 Handling"),
        el("dd", {}, entry.handling ?? ""),
      )
    : null;
  return [el("div", { class: "entry-text" }, entry.text), alarm];
}

function log(entries) {
  return table(
    "log",
    ["# No.", "时间 Time", "类别 Kind", "记录人 By", "内容 Entry"],
    entries.map((e) =>
      el(
        "tr",
        { dataset: { entryId: e.id } },
        el("td", {}, `#${e.id}`),
        el("td", {}, minute(e.at)),
        el("td", {}, label(KINDS, e.kind)),
        el("td", {}, e.author),
        el("td", {}, e.corrects_id ? el("div", { class: "corrects" }, `更正 corrects #${e.corrects_id}`) : null, entryDetails(e)),
      ),
    ),
  );
}

const section = (key, title, body) => el("section", { class: "draft-section", dataset: { section: key } }, el("h3", {}, title), body);

/** Every section of a draft, in the order of the handover record. */
export function renderDraft(draft) {
  return [
    section("alarms_raised", "本班报警及处理 Alarms raised and handled on the shift", alarms("alarms_raised", draft.alarms_raised)),
    section("alarms_open", "未消除报警及处理情况 Alarms still open, with handling so far", alarms("alarms_open", draft.alarms_open)),
    section("out_of_service", "停用设备 Equipment out of service", outOfService(draft.out_of_service)),
    section("patrol", "巡逻 Patrol results", patrol(draft.patrol)),
    section("gates", "道闸异常 Gate anomalies", gates(draft.gates)),
    section("overdue_status_checks", "逾期的设备状态检查 Overdue status checks", overdue(draft.overdue_status_checks)),
    section("log", "值班记录 Duty log", log(draft.log)),
  ];
}
