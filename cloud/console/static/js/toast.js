/** Short messages at the corner of the screen: what an action did, or why the server refused it. */

import { el } from "./dom.js";

function area() {
  let node = document.getElementById("toasts");
  if (!node) {
    node = el("div", { id: "toasts", class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(node);
  }
  return node;
}

/** kind: "ok" | "error" | "info". Errors stay longer: the operator has to read them. */
export function toast(message, kind = "info") {
  const node = el("div", { class: `toast ${kind}`, dataset: { kind } }, message);
  area().append(node);
  setTimeout(() => node.remove(), kind === "error" ? 12000 : 4000);
  return node;
}
