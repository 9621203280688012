/** The card and gate API for the parking pages: every call carries the page's ?site= when it has one. */

import { getJSON, post, request, send, siteUrl } from "./api.js";

export const parkingGet = (path, params) => getJSON(siteUrl(path, params));

/** A POST on the session; the answer, or an ApiError with the server's detail. */
export const parkingPost = (path, body) => post(siteUrl(path), body);

const card = (id, action = "") => `cards/${encodeURIComponent(id)}${action ? `/${action}` : ""}`;

export const cardDetail = (id) => parkingGet(card(id));

/** lost, suspend, reactivate (body {note}), extend (body {valid_until}). */
export const cardAction = (id, action, body) => parkingPost(card(id, action), body);

/** Holder, unit, plates, lanes, notes: never the dates (the server refuses them too). */
export const editCard = (id, changes) => send("PATCH", siteUrl(card(id)), changes);

/** POST /api/cards/import with the file's text as text/csv: {imported, ids, errors}. */
export const importCards = (text) =>
  request(siteUrl("cards/import"), {
    method: "POST",
    headers: { "Content-Type": "text/csv; charset=utf-8" },
    body: text,
  });
