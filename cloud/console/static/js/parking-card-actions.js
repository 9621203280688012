/**
 * What can be done to one card, each in a dialog that shows the server's refusal: report lost
 * (blocks it at every gate), suspend, reactivate, extend a pass (a new pass; dates are never
 * edited: 切记不能涂改日期，必须重办) and edit holder, unit, plates, lanes and notes.
 */

import { formDialog } from "./dialogs.js";
import { cardAction, editCard } from "./parking-api.js";
import { may } from "./permissions.js";
import { toast } from "./toast.js";

const note = { name: "note", label: "说明 Note", kind: "textarea" };
const noteBody = (values) => (values.note?.trim() ? { note: values.note.trim() } : {});

/** Space, comma or semicolon separated words ("粤B12345 粤B54321"). */
export const words = (text) => String(text ?? "").split(/[\s,;，；]+/).filter(Boolean);

function lost(card) {
  return formDialog({
    id: "dialog-lost",
    title: `挂失 Report card ${card.card} lost`,
    subtitle: `${card.holder}：挂失后各道闸拒绝此卡，不可撤销。Every gate will refuse this card; this cannot be undone (issue a new card).`,
    fields: [note],
    submitLabel: "确认挂失 Report lost",
    onSubmit: (values) => cardAction(card.id, "lost", noteBody(values)),
  });
}

function suspension(card, action) {
  const suspend = action === "suspend";
  return formDialog({
    id: `dialog-${action}`,
    title: `${suspend ? "停用 Suspend" : "恢复 Reactivate"} ${card.card}`,
    subtitle: card.holder,
    fields: [note],
    submitLabel: suspend ? "停用 Suspend" : "恢复 Reactivate",
    onSubmit: (values) => cardAction(card.id, action, noteBody(values)),
  });
}

function extend(card) {
  const shown = formDialog({
    id: "dialog-extend",
    title: `续期 Extend pass ${card.card}`,
    subtitle: "续期将发新证、旧证失效，日期不可涂改。An extension issues a new pass from now; the old one expires.",
    fields: [
      { name: "valid_until", label: "新截止日期 New end date", required: true },
      { name: "card", label: "新卡号（如换卡）New card number, if a new card is handed out" },
    ],
    submitLabel: "续期 Extend",
    onSubmit: (values) => {
      const body = { valid_until: `${values.valid_until}T23:59:59` };
      if (values.card.trim()) body.card = values.card.trim();
      return cardAction(card.id, "extend", body);
    },
  });
  document.getElementById("field-valid_until").type = "date";
  return shown;
}

function edit(card) {
  const before = {
    holder: card.holder,
    unit: card.unit ?? "",
    plates: card.plates.join(" "),
    lanes: (card.lanes ?? []).join(" "),
    notes: card.notes ?? "",
  };
  return formDialog({
    id: "dialog-edit",
    title: `修改 Edit ${card.card}`,
    subtitle: "有效期不可修改：续期请用“续期”。Dates are never edited: extend the pass instead.",
    fields: [
      { name: "holder", label: "持卡人 Holder", required: true, value: before.holder },
      { name: "unit", label: "房号 Unit", value: before.unit },
      { name: "plates", label: "车牌 Plates", value: before.plates },
      { name: "lanes", label: "车道 Lanes (空 = 全部 empty: all)", value: before.lanes },
      { name: "notes", label: "备注 Notes", kind: "textarea", value: before.notes },
    ],
    submitLabel: "保存 Save",
    onSubmit: (values) => {
      const changes = {};
      for (const [name, value] of Object.entries(values)) {
        if (value.trim() === before[name].trim()) continue;
        if (name === "plates") changes.plates = words(value);
        else if (name === "lanes") changes.lanes = words(value).length ? words(value) : null;
        else changes[name] = value.trim() || (name === "holder" ? "" : null);
      }
      return editCard(card.id, changes);
    },
  });
}

const DONE = {
  lost: "已挂失 Reported lost",
  suspend: "已停用 Suspended",
  reactivate: "已恢复 Reactivated",
  extend: "已续期，新证已发 Extended: a new pass is issued",
  edit: "已保存 Saved",
};

/** Run `action` on `card`; resolves with the changed (or new) card, or null when cancelled. */
export async function cardDialog(action, card) {
  const run = { lost, extend, edit }[action] ?? ((c) => suspension(c, action));
  const changed = await run(card);
  if (changed) toast(`${DONE[action]}: ${changed.card} · ${changed.holder}`, "ok");
  return changed;
}

/** The API operation behind each action, as roles.json names it. */
const OPERATIONS = {
  edit: ["PATCH", "/api/cards/{card_id}"],
  lost: ["POST", "/api/cards/{card_id}/lost"],
  extend: ["POST", "/api/cards/{card_id}/extend"],
  suspend: ["POST", "/api/cards/{card_id}/{action}"],
  reactivate: ["POST", "/api/cards/{card_id}/{action}"],
};

/** May the viewer's role take any action on a card at all? */
export const mayChangeCards = () => Object.values(OPERATIONS).some(([method, path]) => may(method, path));

/** The actions that apply to a card in its status and the viewer's role may take (the server refuses the rest anyway). */
export function actionsFor(card) {
  const apply =
    card.status === "active"
      ? ["edit", "lost", "suspend", ...(card.valid_until ? ["extend"] : [])]
      : card.status === "suspended"
        ? ["edit", "lost", "reactivate"]
        : [];
  return apply.filter((action) => may(...OPERATIONS[action]));
}

export const ACTION_WORDS = {
  edit: "修改 Edit",
  lost: "挂失 Report lost",
  suspend: "停用 Suspend",
  reactivate: "恢复 Reactivate",
  extend: "续期 Extend",
};
