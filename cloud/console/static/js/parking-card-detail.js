/**
 * One card in detail: its fields, its history, and for a lost card when each gate had the list
 * that blocks it (已在 N 秒后生效). Reloaded with the page, so a gate's block shows as it happens.
 */

import { $, el, fill } from "./dom.js";
import { formatTime, formatValue, label } from "./labels.js";
import { cardDetail } from "./parking-api.js";
import { CARD_EVENTS, CARD_STATUSES, CARD_TYPES, minute, windowWords } from "./parking-labels.js";

let shownId = null;

const seconds = (value) => (Math.abs(value) < 10 ? value.toFixed(1) : String(Math.round(value)));

function blockWords(gate) {
  if (gate.after_s === null || gate.after_s === undefined) {
    return el("span", { class: "pill pass-denied" }, "尚未生效 Not blocked yet");
  }
  const n = seconds(gate.after_s);
  return [el("span", { class: "pill pass-allowed" }, `已在 ${n} 秒后生效 blocked ${n} s after the report`), el("div", { class: "sub" }, minute(gate.blocked_at))];
}

function detailWords(detail) {
  if (!detail) return "";
  return Object.entries(detail)
    .filter(([, value]) => value !== null && value !== undefined)
    .map(([name, value]) => `${name}: ${Array.isArray(value) ? value.join(", ") : formatValue(value)}`)
    .join("; ");
}

function render(card) {
  const box = $("#card-detail");
  box.dataset.cardId = card.id;
  box.dataset.status = card.status;
  fill($("#card-detail-title"), `卡片详情 Card ${card.card} · ${card.holder}`);
  const fields = [
    ["卡号 Card", card.card],
    ["持卡人 Holder", card.holder],
    ["房号 Unit", card.unit ?? "—"],
    ["车牌 Plates", card.plates.join(" ") || "—"],
    ["类型 Type", label(CARD_TYPES, card.type)],
    ["状态 Status", label(CARD_STATUSES, card.status)],
    ["有效期 Valid", windowWords(card)],
    ["车道 Lanes", card.lanes?.join(" ") || "全部 All"],
    ["备注 Notes", card.notes ?? "—"],
    ["发卡 Issued", `${minute(card.created_at)} · ${card.created_by}`],
  ];
  if (card.reported_lost_at) fields.push(["挂失 Reported lost", `${formatTime(card.reported_lost_at)} · ${card.reported_lost_by}`]);
  if (card.replaces_id) fields.push(["续期自 Extends", `#${card.replaces_id}`]);
  fill($("#card-fields"), fields.map(([name, value]) => [el("dt", {}, name), el("dd", { dataset: { field: name.split(" ").pop().toLowerCase() } }, value)]));
  $("#card-blocks-box").hidden = card.gates.length === 0;
  fill(
    $("#card-blocks tbody"),
    card.gates.map((gate) =>
      el(
        "tr",
        { dataset: { node: gate.node } },
        el("td", {}, gate.node),
        el("td", {}, gate.version === null ? "—" : `v${gate.version}`),
        el("td", { class: "block" }, blockWords(gate)),
      ),
    ),
  );
  fill(
    $("#card-history tbody"),
    card.history.map((event) =>
      el(
        "tr",
        { dataset: { event: event.event } },
        el("td", {}, formatTime(event.at)),
        el("td", { class: "event" }, label(CARD_EVENTS, event.event)),
        el("td", { class: "by" }, event.by),
        el("td", { class: "detail" }, detailWords(event.detail)),
      ),
    ),
  );
}

export async function showCard(id) {
  shownId = id;
  render(await cardDetail(id));
  $("#card-detail").hidden = false;
  $("#card-detail").scrollIntoView({ block: "nearest" });
}

/** Reload the card shown, if any. */
export async function refreshCard() {
  if (shownId !== null) render(await cardDetail(shownId));
}

export function setUpCardDetail() {
  $("#card-detail-close").addEventListener("click", () => {
    shownId = null;
    $("#card-detail").hidden = true;
  });
}
