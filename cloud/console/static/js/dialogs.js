/** Modal dialogs for reasons, comments and confirmations: Esc cancels, the server's refusal shows inside. */

import { el } from "./dom.js";

function field(spec) {
  const id = `field-${spec.name}`;
  let input;
  if (spec.kind === "select") {
    input = el(
      "select",
      { id, name: spec.name },
      spec.options.map(([value, text]) =>
        el("option", { value, selected: String(value) === String(spec.value) }, text),
      ),
    );
  } else if (spec.kind === "textarea") {
    input = el("textarea", { id, name: spec.name, rows: 3, required: spec.required, maxlength: 500 });
  } else {
    const type = spec.kind === "password" ? "password" : "text";
    input = el("input", { id, name: spec.name, type, required: spec.required, maxlength: 200 });
  }
  if (spec.placeholder) input.placeholder = spec.placeholder;
  if (spec.value !== undefined && spec.kind !== "select") input.value = spec.value;
  return [el("label", { for: id }, spec.label), input];
}

/**
 * Show a form; `onSubmit(values)` does the work. Resolves with its result, or null when
 * cancelled (Esc or the cancel button). A thrown error's message shows in the dialog, which
 * stays open so the operator can correct and retry.
 */
export function formDialog({ id, title, subtitle, fields = [], submitLabel, onSubmit }) {
  return new Promise((resolve) => {
    const error = el("p", { class: "error", role: "alert", hidden: true });
    const submit = el("button", { type: "submit", class: "primary" }, submitLabel);
    const cancel = el("button", { type: "button" }, "取消 Cancel (Esc)");
    const form = el(
      "form",
      { novalidate: false },
      el("h2", {}, title),
      subtitle ? el("p", { class: "subtitle" }, subtitle) : null,
      fields.map(field),
      error,
      el("div", { class: "buttons" }, cancel, submit),
    );
    const dialog = el("dialog", { id, class: "dialog" }, form);
    let result = null;

    form.addEventListener("keydown", (event) => {
      // Ctrl+Enter sends from a multi-line comment; plain Enter there is a new line.
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = Object.fromEntries(new FormData(form).entries());
      submit.disabled = true;
      error.hidden = true;
      try {
        result = await onSubmit(values);
        dialog.close();
      } catch (failure) {
        error.textContent = failure.message;
        error.dataset.status = String(failure.status ?? "");
        error.hidden = false;
      } finally {
        submit.disabled = false;
      }
    });
    cancel.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(result);
    });
    document.body.append(dialog);
    dialog.showModal();
    (form.querySelector("input, textarea, select") || submit).focus();
  });
}

/** A yes/no question; `onConfirm()` runs on yes (Enter), errors show like formDialog's. */
export const confirmDialog = ({ id, title, message, confirmLabel, onConfirm }) =>
  formDialog({ id, title, subtitle: message, submitLabel: confirmLabel, onSubmit: onConfirm });

/** The keyboard help (?). */
export function helpDialog(keys) {
  const dialog = el(
    "dialog",
    { id: "help-dialog", class: "dialog help" },
    el("h2", {}, "快捷键 Keyboard"),
    el(
      "table",
      {},
      el(
        "tbody",
        {},
        keys.map(([key, words]) => el("tr", {}, el("td", {}, el("kbd", {}, key)), el("td", {}, words))),
      ),
    ),
    el("form", { method: "dialog" }, el("div", { class: "buttons" }, el("button", { class: "primary" }, "关闭 Close (Esc)"))),
  );
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}
