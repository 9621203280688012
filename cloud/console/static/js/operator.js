/**
 * Who is acting: the duty operator's name, asked once and kept in localStorage, sent with every
 * action as X-Operator. Real authentication replaces this one module later.
 */

import { el, fill } from "./dom.js";

const KEY = "sitewatch.operator";

export function currentOperator() {
  return localStorage.getItem(KEY) || "";
}

/** Headers that say who acts; the name is URL-encoded because HTTP headers are not UTF-8. */
export function operatorHeaders() {
  const name = currentOperator();
  return name ? { "X-Operator": encodeURIComponent(name) } : {};
}

/**
 * Ask for (or confirm) the operator's name in a modal. Submitting it is the user gesture that
 * lets the page play sound, so `onGesture` runs inside the submit handler.
 */
export function signIn({ onGesture = () => {}, change = false } = {}) {
  const known = currentOperator();
  return new Promise((resolve) => {
    const input = el("input", {
      id: "operator-name",
      name: "operator",
      required: true,
      autocomplete: "name",
      maxlength: 64,
      value: known,
    });
    const dialog = el(
      "dialog",
      { id: "operator-dialog", class: "dialog", "aria-labelledby": "operator-title" },
      el(
        "form",
        { method: "dialog" },
        el("h2", { id: "operator-title" }, known && !change ? "确认值班员 Confirm operator" : "值班员登记 Who is on duty?"),
        el("p", { class: "hint" }, "报警操作将记录此姓名。Every action is recorded under this name."),
        el("label", { for: "operator-name" }, "值班员姓名 Operator name"),
        input,
        el(
          "div",
          { class: "buttons" },
          el("button", { type: "submit", class: "primary", value: "ok" }, known && !change ? "继续值班 Continue" : "开始值班 Start"),
        ),
      ),
    );
    dialog.addEventListener("cancel", (event) => {
      // Without a name no action can be recorded: the first sign-in cannot be dismissed.
      if (!known) event.preventDefault();
    });
    dialog.addEventListener("submit", () => onGesture());
    dialog.addEventListener("close", () => {
      const name = input.value.trim();
      if (dialog.returnValue === "ok" && name) localStorage.setItem(KEY, name);
      dialog.remove();
      resolve(currentOperator());
    });
    document.body.append(dialog);
    dialog.showModal();
    input.select();
  });
}

/** The header badge: who is on duty, with a "change" link. */
export function renderOperatorBadge(container, { onGesture } = {}) {
  const render = () =>
    fill(
      container,
      el("span", { class: "muted" }, "值班员 Operator: "),
      el("strong", { id: "operator-current" }, currentOperator() || "—"),
      " ",
      el(
        "button",
        {
          type: "button",
          class: "link",
          id: "operator-change",
          onclick: async () => {
            await signIn({ onGesture, change: true });
            render();
          },
        },
        "更换 change",
      ),
    );
  render();
  return render;
}
