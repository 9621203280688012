/** What every console page shares: the live stream, the fire alert and its sound, help keys. */

import { FireAlert } from "./alert.js";
import { $, typing } from "./dom.js";
import { helpDialog } from "./dialogs.js";
import { Live } from "./live.js";

export const COMMON_KEYS = [
  ["a", "确认所选报警 Acknowledge the selected alarm"],
  ["c", "备注 Comment"],
  ["s", "搁置（原因、时长）Shelve (reason, duration)"],
  ["u", "取消搁置 Unshelve"],
  ["r", "复位（锁存的火警）Reset (a latched fire alarm)"],
  ["o", "停用（原因）Out of service (reason)"],
  ["t", "恢复使用 Return to service"],
  ["m", "静音当前火警 Mute the sounding fire alarm"],
  ["?", "本帮助 This help"],
  ["Esc", "关闭对话框 Close a dialog"],
];

/**
 * Start a page: connect the stream and wire the fire alert. `keys` are the page's own shortcuts
 * shown in the help. Who is logged in is the header's (user-badge.js); the login on the same
 * site was the gesture that lets the page sound, and any click or key press here is one too.
 */
export function startShell({ keys }) {
  const alert = new FireAlert($("#fire-banner"));
  const unlock = () => alert.unlock();
  // Any later click or key also counts as a gesture, e.g. after a page reload.
  document.addEventListener("pointerdown", unlock, { capture: true });
  document.addEventListener("keydown", unlock, { capture: true });

  const live = new Live($("#connection"));
  live.addEventListener("change", () => alert.update(live.alarms));
  live.addEventListener("change", (event) => {
    const { alarm, previous } = event.detail;
    const isNew = alarm && alarm.state === "unacknowledged" && previous?.state !== "unacknowledged";
    if (isNew && alarm.category !== "fire") alert.chime();
  });
  // Connect on the next task, once the page has added its own listeners.
  setTimeout(() => live.start(), 0);

  $("#sound")?.addEventListener("click", unlock);
  // Try at once too: a kiosk browser may allow sound without a gesture.
  unlock();

  const help = () => helpDialog(keys);
  $("#help-button")?.addEventListener("click", help);
  document.addEventListener("keydown", (event) => {
    if (typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "?") {
      event.preventDefault();
      help();
    } else if (event.key === "m") {
      alert.mute();
    }
  });
  return { live, alert };
}
