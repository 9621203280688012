/**
 * The live gate activity: the latest decisions of every lane, newest first, the reason in words.
 * A stranger (unknown card, or a card without permission for the lane) is highlighted with
 * 登记放行 Register & let through until the booth has registered it.
 */

import { el, fillWhenChanged } from "./dom.js";
import { label } from "./labels.js";
import { hhmm, today } from "./patrol-labels.js";
import { CARD_TYPES, DIRECTIONS, REASONS, STRANGER_REASONS } from "./parking-labels.js";

function result(pass) {
  const words = label(REASONS, pass.reason);
  const kind = pass.allowed ? "allowed" : "denied";
  return el(
    "td",
    { class: "result" },
    el("span", { class: `pill pass-${kind}` }, pass.allowed ? "放行 Allowed" : "拒绝 Denied"),
    " ",
    words,
    pass.violation ? el("span", { class: "flag violation" }, " ⚠ 违规 Violation") : null,
    pass.by ? el("div", { class: "sub" }, `${pass.by}${pass.note ? ` · ${pass.note}` : ""}`) : null,
  );
}

function passRow(pass, answered, onRegister) {
  const stranger = !pass.allowed && STRANGER_REASONS.has(pass.reason);
  const classes = [pass.allowed ? "allowed" : "denied", stranger && !answered ? "stranger" : ""];
  return el(
    "tr",
    {
      class: classes.join(" ").trim(),
      dataset: { passId: pass.id, reason: pass.reason, allowed: String(pass.allowed), lane: pass.lane },
    },
    el("td", { class: "time" }, hhmm(pass.at)),
    el("td", { class: "lane" }, pass.lane, el("div", { class: "sub" }, label(DIRECTIONS, pass.direction))),
    el("td", { class: "card" }, pass.card ?? "—"),
    el("td", { class: "holder" }, pass.holder ?? "—"),
    el("td", {}, pass.card_type ? label(CARD_TYPES, pass.card_type) : "—"),
    result(pass),
    el(
      "td",
      { class: "row-actions" },
      stranger && !answered && onRegister
        ? el("button", { type: "button", class: "primary register", onclick: () => onRegister(pass) }, "登记放行 Register & let through")
        : stranger && answered
          ? el("span", { class: "muted registered" }, "已登记 Registered")
          : null,
    ),
  );
}

/**
 * `registered`: ids of denied passes the booth has answered; `onRegister(pass)` opens the form
 * (without it, for a role that may not register, no button shows). Rebuilt only when the passes,
 * their answers or the day change: the 3 s refresh must not swap a Register button under a click.
 */
export function renderPasses(tbody, passes, { registered, onRegister }) {
  const answered = passes.map((pass) => registered.has(pass.id));
  fillWhenChanged(tbody, [passes, answered, Boolean(onRegister), today()], () =>
    passes.length
      ? passes.map((pass, i) => passRow(pass, answered[i], onRegister))
      : el("tr", {}, el("td", { colspan: 7, class: "muted" }, "暂无通行记录 No gate activity yet")),
  );
}
