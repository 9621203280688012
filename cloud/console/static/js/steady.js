/**
 * Redraws that could move a control wait while a pointer is pressed. The fire banner, the node
 * strip, the counts and the filter chips sit above the filters and grow as alarms arrive: drawn
 * between a press and its release, they move the control from under the pointer, and the
 * browser drops the click. A press holds them for at most HOLD_MS, so a stuck or long press
 * never keeps a fire banner from the screen; the sounder does not wait at all.
 */

const HOLD_MS = 5000;
const waiting = new Map(); // key → the latest draw asked for while pressed
let pressed = false;
let limit = null;

function release() {
  if (!pressed) return;
  pressed = false;
  clearTimeout(limit);
  // On the next task: the release's click is dispatched after pointerup, on what was pressed.
  setTimeout(() => {
    const draws = [...waiting.values()];
    waiting.clear();
    for (const draw of draws) draw();
  }, 0);
}

document.addEventListener(
  "pointerdown",
  () => {
    pressed = true;
    clearTimeout(limit);
    limit = setTimeout(release, HOLD_MS);
  },
  { capture: true },
);
for (const type of ["pointerup", "pointercancel", "dragend"]) {
  window.addEventListener(type, release, { capture: true });
}
window.addEventListener("blur", release);

/** Draw now, or, while a pointer is pressed, once it is released (the latest draw per key). */
export function steady(key, draw) {
  if (pressed) {
    waiting.set(key, draw);
    return;
  }
  waiting.delete(key); // superseded: a release's queued draw must not come after this one
  draw();
}
