/** The API tokens on the admin page: the list, mint one (its secret shown once), revoke one. */

import { getJSON, post, send } from "./api.js";
import { $, el, fill } from "./dom.js";
import { formatTime } from "./labels.js";
import { me } from "./me.js";
import { roleWords } from "./role-labels.js";
import { roleOptions } from "./admin-users.js";
import { toast } from "./toast.js";

const TOKENS = "/api/auth/tokens";

async function revoke(token) {
  try {
    await send("DELETE", `${TOKENS}/${encodeURIComponent(token.id)}`);
    toast(`已吊销 Revoked: ${token.name}`, "ok");
  } catch (error) {
    toast(`吊销失败 Could not revoke: ${error.message}`, "error");
  }
  await loadTokens();
}

function row(token) {
  return el(
    "tr",
    { dataset: { tokenId: token.id, name: token.name, revoked: String(Boolean(token.revoked_at)) } },
    el("td", {}, token.name),
    el("td", {}, token.scopes.map(roleWords).join(", ")),
    el("td", {}, formatTime(token.created_at)),
    el("td", { class: "revoked" }, token.revoked_at ? formatTime(token.revoked_at) : "—"),
    el(
      "td",
      {},
      token.revoked_at ? null : el("button", { type: "button", class: "token-revoke", onclick: () => revoke(token) }, "吊销 Revoke"),
    ),
  );
}

export async function loadTokens() {
  fill($("#tokens tbody"), (await getJSON(TOKENS)).map(row));
}

async function mint(event) {
  event.preventDefault();
  const { name, scope, username } = Object.fromEntries(new FormData(event.target).entries());
  try {
    const made = await post(TOKENS, { name, scopes: [scope], username });
    fill($("#token-secret"), made.token);
    $("#token-new").hidden = false;
    event.target.reset();
    showOwners();
  } catch (error) {
    toast(`生成失败 Could not make it: ${error.message}`, "error");
  }
  await loadTokens();
}

let owners = [];

function showOwners() {
  const picked = $("#token-owner").value || me?.username;
  fill(
    $("#token-owner"),
    owners.filter((u) => u.active).map((u) => el("option", { value: u.username, selected: u.username === picked }, `${u.name} (${u.username})`)),
  );
}

/** The users a token may be made for (the accounts list tells, whenever it changes). */
export function setOwners(users) {
  owners = users;
  showOwners();
}

export function startTokens() {
  fill($("#token-scope"), roleOptions("operator"));
  $("#token-form").addEventListener("submit", mint);
  return loadTokens();
}
