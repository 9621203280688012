/** Tiny DOM helpers: build elements from data with textContent only (never innerHTML). */

const SVG_NS = "http://www.w3.org/2000/svg";

function apply(node, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.setAttribute("class", value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    // Strings become text nodes, so data can never be parsed as markup.
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** `el("td", {class: "x", onclick: f}, "text", otherNode)`. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  apply(node, attrs);
  append(node, children);
  return node;
}

/** The same for SVG elements (sparklines). */
export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  apply(node, attrs);
  append(node, children);
  return node;
}

const renderedFrom = new WeakMap(); // node → the data fillWhenChanged last filled it from

/** Replace all children of `node`. */
export function fill(node, ...children) {
  renderedFrom.delete(node); // what it shows now no longer comes from that data
  node.replaceChildren();
  append(node, children);
  return node;
}

/**
 * `fill(node, build())`, but only when `data` differs from what `node` was last filled from. A
 * periodic refresh that changes nothing then leaves the elements in place: replacing a link
 * between the press and the release of a click would lose the click. `data` is compared as JSON,
 * so a Set or a Map in it must be given as an array.
 */
export function fillWhenChanged(node, data, build) {
  const key = JSON.stringify(data);
  if (renderedFrom.get(node) === key) return node;
  fill(node, build());
  renderedFrom.set(node, key);
  return node;
}

/** One more finished refresh of `name` in the body's data-{name}-runs, which the browser tests await. */
export function countRun(name = "refresh") {
  const key = `${name}Runs`;
  document.body.dataset[key] = String(Number(document.body.dataset[key] ?? 0) + 1);
}

export const $ = (selector, root = document) => root.querySelector(selector);

/**
 * Run `work()` with `button` disabled; a refusal shows its message in `error` (an element with
 * role="alert"), verbatim. Resolves true when the work succeeded.
 */
export async function submitting(button, error, work) {
  error.hidden = true;
  button.disabled = true;
  try {
    await work();
    return true;
  } catch (failure) {
    fill(error, failure.message);
    error.hidden = false;
    return false;
  } finally {
    button.disabled = false;
  }
}

/** True when a key press is meant for a form field or an open dialog, not for the page. */
export function typing(event) {
  const target = event.target;
  if (document.querySelector("dialog[open]")) return true;
  if (!(target instanceof Element)) return false;
  return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}
