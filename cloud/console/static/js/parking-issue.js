/** 发卡 Issue a card: the form's fields as the API takes them; the server's refusal under the form. */

import { $, el, fill } from "./dom.js";
import { parkingPost } from "./parking-api.js";
import { words } from "./parking-card-actions.js";
import { CARD_TYPES } from "./parking-labels.js";
import { toast } from "./toast.js";

/** A form's values as a card: dates are site-local days, an end date lasts through its day. */
function cardOf(data) {
  const text = (name) => String(data.get(name) ?? "").trim();
  const body = { card: text("card"), holder: text("holder"), type: text("type"), plates: words(text("plates")) };
  if (text("unit")) body.unit = text("unit");
  if (text("valid_from")) body.valid_from = `${text("valid_from")}T00:00:00`;
  if (text("valid_until")) body.valid_until = `${text("valid_until")}T23:59:59`;
  if (words(text("lanes")).length) body.lanes = words(text("lanes"));
  if (text("notes")) body.notes = text("notes");
  return body;
}

export function setUpIssueForm({ issued }) {
  fill($("#issue-type"), Object.entries(CARD_TYPES).map(([value, text]) => el("option", { value }, text)));
  const form = $("#issue-form");
  const error = $("#issue-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    $("#issue-submit").disabled = true;
    try {
      const card = await parkingPost("cards", cardOf(new FormData(form)));
      toast(`已发卡 Issued: ${card.card} · ${card.holder}`, "ok");
      form.reset();
      issued(card);
    } catch (failure) {
      fill(error, failure.message);
      error.hidden = false;
    } finally {
      $("#issue-submit").disabled = false;
    }
  });
}
