/**
 * The card table: search (card number, holder, unit or plate), filter by status and type, and
 * each card's actions. The filters live in the URL, so a reload shows the same cards.
 */

import { $, el, fill } from "./dom.js";
import { label } from "./labels.js";
import { parkingGet } from "./parking-api.js";
import { ACTION_WORDS, actionsFor, cardDialog } from "./parking-card-actions.js";
import { refreshCard, showCard } from "./parking-card-detail.js";
import { CARD_STATUSES, CARD_TYPES, windowWords } from "./parking-labels.js";
import { showLoadError } from "./report-page.js";

const FILTERS = ["q", "status", "type"];
let onChanged = () => {};

const choices = (table, all) => [el("option", { value: "" }, all), Object.entries(table).map(([value, words]) => el("option", { value }, words))];

function filters() {
  return Object.fromEntries(FILTERS.map((name) => [name, $(`#card-${name}`).value.trim()]));
}

async function act(action, card) {
  const changed = await cardDialog(action, card);
  if (!changed) return;
  await loadCards();
  await refreshCard();
  onChanged(changed);
}

function row(card) {
  return el(
    "tr",
    { class: `status-${card.status}`, dataset: { cardId: card.id, card: card.card, status: card.status } },
    el("td", { class: "card" }, el("button", { type: "button", class: "link", onclick: () => showCard(card.id) }, card.card)),
    el("td", { class: "holder" }, card.holder),
    el("td", {}, card.unit ?? ""),
    el("td", { class: "plates" }, card.plates.join(" ")),
    el("td", {}, label(CARD_TYPES, card.type)),
    el("td", { class: "status" }, el("span", { class: `pill card-${card.status}` }, label(CARD_STATUSES, card.status))),
    el("td", {}, windowWords(card)),
    el("td", {}, card.lanes?.join(" ") || "全部 All"),
    el(
      "td",
      { class: "row-actions" },
      el("button", { type: "button", class: "details", onclick: () => showCard(card.id) }, "详情 Details"),
      actionsFor(card).map((action) =>
        el("button", { type: "button", dataset: { action }, onclick: () => act(action, card) }, ACTION_WORDS[action]),
      ),
    ),
  );
}

export async function loadCards() {
  const wanted = filters();
  const cards = await parkingGet("cards", { ...wanted, limit: 200 });
  fill(
    $("#cards tbody"),
    cards.length ? cards.map(row) : el("tr", {}, el("td", { colspan: 9, class: "muted" }, "没有卡片 No cards found")),
  );
  return cards;
}

/** `changed(card)` runs after any card changed, so the page can reload what depends on it. */
export function setUpCards({ changed }) {
  onChanged = changed;
  const asked = new URLSearchParams(location.search);
  fill($("#card-status"), choices(CARD_STATUSES, "全部 All"));
  fill($("#card-type"), choices(CARD_TYPES, "全部 All"));
  for (const name of FILTERS) $(`#card-${name}`).value = asked.get(name) ?? "";
  $("#card-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    const url = new URL(location.href);
    for (const [name, value] of Object.entries(filters())) {
      if (value) url.searchParams.set(name, value);
      else url.searchParams.delete(name);
    }
    history.replaceState(null, "", url);
    loadCards().catch(showLoadError);
  });
  for (const name of ["status", "type"]) $(`#card-${name}`).addEventListener("change", () => $("#card-filters").requestSubmit());
}
