/**
 * The duty log of one day or shift: entries are never changed, so the only action on one is
 * 更正 Correct this, which writes a new entry naming it. A correction links to what it corrects;
 * a corrected entry says which entries correct it.
 */

import { el, fillWhenChanged } from "./dom.js";
import { label } from "./labels.js";
import { KINDS, minute } from "./duty-labels.js";
import { entryDetails } from "./duty-draft.js";

const ref = (id) => el("a", { href: `#entry-${id}`, class: "entry-ref" }, `#${id}`);

function links(entry) {
  return [
    entry.corrects_id ? el("div", { class: "corrects" }, "更正 corrects ", ref(entry.corrects_id)) : null,
    entry.corrected_by.length ? el("div", { class: "corrected-by" }, "已更正 corrected by ", entry.corrected_by.map((id, i) => [i ? ", " : "", ref(id)])) : null,
  ];
}

function entryRow(entry, onCorrect) {
  return el(
    "tr",
    {
      id: `entry-${entry.id}`,
      class: entry.corrected_by.length ? "corrected" : "",
      dataset: { entryId: entry.id, kind: entry.kind, corrected: String(entry.corrected_by.length > 0) },
    },
    el("td", { class: "no" }, `#${entry.id}`),
    el("td", { class: "time" }, minute(entry.at)),
    el("td", { class: "shift" }, entry.shift),
    el("td", { class: "kind" }, label(KINDS, entry.kind)),
    el("td", { class: "author" }, entry.author),
    el("td", { class: "text" }, links(entry), entryDetails(entry)),
    el(
      "td",
      { class: "row-actions" },
      onCorrect ? el("button", { type: "button", class: "correct", dataset: { action: "correct" }, onclick: () => onCorrect(entry) }, "更正 Correct this") : null,
    ),
  );
}

/**
 * `onCorrect(entry)` opens the entry form to correct it; without it (history) no action shows.
 * Rebuilt only when the entries change: a refresh must not swap a button or link under a click.
 */
export function renderLog(tbody, entries, { onCorrect } = {}) {
  fillWhenChanged(tbody, [entries, Boolean(onCorrect)], () =>
    entries.length ? entries.map((entry) => entryRow(entry, onCorrect)) : el("tr", {}, el("td", { colspan: 7, class: "muted" }, "无记录 No entries")),
  );
}
