/** The accounts on the admin page: the list, add a user, change a role, disable or enable, reset a password. */

import { getJSON, post, send } from "./api.js";
import { formDialog } from "./dialogs.js";
import { $, el, fill } from "./dom.js";
import { formatTime } from "./labels.js";
import { ROLES, roleWords } from "./role-labels.js";
import { toast } from "./toast.js";

const USERS = "/api/auth/users";
let onUsers = () => {};

export const roleOptions = (selected) =>
  Object.entries(ROLES).map(([value, words]) => el("option", { value, selected: value === selected }, words));

const change = (user, body) => send("PATCH", `${USERS}/${encodeURIComponent(user.id)}`, body);

/** Run a change, say how it went (the server's words on a refusal), and show the list again. */
async function act(promise, done) {
  try {
    await promise;
    toast(done, "ok");
  } catch (error) {
    toast(`失败 Failed: ${error.message}`, "error");
  }
  await loadUsers();
}

const resetPassword = (user) =>
  formDialog({
    id: "dialog-password",
    title: "重置密码 Reset password",
    subtitle: `${user.name} (${user.username})`,
    fields: [{ name: "password", label: "新密码（至少10位）New password (10+ characters)", kind: "password", required: true }],
    submitLabel: "重置 Reset (Enter)",
    onSubmit: async ({ password }) => {
      await change(user, { password });
      toast(`已重置密码 Password reset: ${user.name}`, "ok");
    },
  });

function row(user) {
  const role = el("select", { class: "user-role", "aria-label": `角色 Role ${user.username}` }, roleOptions(user.role));
  role.addEventListener("change", () => act(change(user, { role: role.value }), `${user.name}: ${roleWords(role.value)}`));
  const toggle = user.active ? "停用 Disable" : "启用 Enable";
  return el(
    "tr",
    { dataset: { username: user.username, active: String(user.active) } },
    el("td", {}, user.username),
    el("td", {}, user.name),
    el("td", {}, role),
    el("td", { class: "status" }, user.active ? "启用 Active" : "停用 Disabled"),
    el("td", {}, formatTime(user.created_at)),
    el(
      "td",
      {},
      el("button", { type: "button", class: "user-active", onclick: () => act(change(user, { active: !user.active }), `${toggle}: ${user.name}`) }, toggle),
      " ",
      el("button", { type: "button", class: "user-password", onclick: () => resetPassword(user) }, "重置密码 Reset password"),
    ),
  );
}

export async function loadUsers() {
  const users = await getJSON(USERS);
  fill($("#users tbody"), users.map(row));
  onUsers(users);
  return users;
}

async function addUser(event) {
  event.preventDefault();
  const form = event.target;
  const body = Object.fromEntries(new FormData(form).entries());
  try {
    const user = await post(USERS, body);
    toast(`已添加 Added: ${user.name} (${roleWords(user.role)})`, "ok");
    form.reset();
  } catch (error) {
    toast(`添加失败 Could not add: ${error.message}`, "error");
  }
  await loadUsers();
}

/** Wire the list and the form; `listener(users)` hears every new list (the token owners). */
export function startUsers(listener) {
  onUsers = listener;
  fill($("#user-role-new"), roleOptions("guard"));
  $("#user-form").addEventListener("submit", addUser);
  return loadUsers();
}
