/**
 * The operator actions on one alarm, shared by the list and the detail page (buttons and keys);
 * only those the logged-in role may take are offered.
 */

import { alarmAction } from "./api.js";
import { formDialog } from "./dialogs.js";
import { el } from "./dom.js";
import { may } from "./permissions.js";
import { toast } from "./toast.js";

const needsAck = (alarm) => alarm.state === "unacknowledged" || alarm.state === "rtn_unacknowledged";
const note = (values) => (values.note?.trim() ? { note: values.note.trim() } : {});
const SHELVE_MINUTES = [
  ["15", "15 分钟 min"],
  ["30", "30 分钟 min"],
  ["60", "1 小时 hour"],
  ["120", "2 小时 hours"],
  ["240", "4 小时 hours"],
  ["480", "8 小时 hours (一个班 a shift)"],
];

/**
 * `available(alarm)` is true, or why not in words. It only decides how the buttons look: the
 * server decides what is legal and its refusal (409) is shown as it is.
 */
export const ACTIONS = [
  {
    name: "acknowledge",
    path: "acknowledge",
    key: "a",
    label: "确认 Acknowledge",
    done: "已确认 Acknowledged",
    available: (a) => needsAck(a) || "无需确认 Nothing to acknowledge",
  },
  {
    name: "comment",
    path: "comment",
    key: "c",
    label: "备注 Comment",
    done: "已备注 Comment saved",
    available: () => true,
    fields: [{ name: "note", label: "备注 Comment", kind: "textarea", required: true }],
    body: (v) => ({ note: v.note.trim() }),
  },
  {
    name: "shelve",
    path: "shelve",
    key: "s",
    label: "搁置 Shelve",
    done: "已搁置 Shelved",
    available: (a) =>
      (a.category === "fire" && "火警不能搁置 Fire alarms cannot be shelved") ||
      (a.state === "shelved" && "已搁置 Already shelved") ||
      (a.state === "out_of_service" && "已停用 Out of service") ||
      true,
    fields: [
      { name: "reason", label: "搁置原因 Reason", kind: "text", required: true },
      { name: "minutes", label: "时长 For", kind: "select", options: SHELVE_MINUTES, value: "60" },
    ],
    body: (v) => ({ reason: v.reason.trim(), minutes: Number.parseInt(v.minutes, 10) }),
  },
  {
    name: "unshelve",
    path: "unshelve",
    key: "u",
    label: "取消搁置 Unshelve",
    done: "已取消搁置 Unshelved",
    available: (a) => a.state === "shelved" || "未搁置 Not shelved",
  },
  {
    name: "reset",
    path: "reset",
    key: "r",
    label: "复位 Reset",
    done: "已复位 Reset",
    available: (a) => a.latched || "未锁存 Not latched",
    fields: [{ name: "note", label: "备注（可选）Note (optional)", kind: "text" }],
    body: note,
    confirm: "复位 Reset",
  },
  {
    name: "out_of_service",
    path: "out-of-service",
    key: "o",
    label: "停用 Out of service",
    done: "已停用 Out of service",
    available: (a) => a.state !== "out_of_service" || "已停用 Already out of service",
    fields: [{ name: "reason", label: "停用原因 Reason (e.g. 维修 maintenance)", kind: "text", required: true }],
    body: (v) => ({ reason: v.reason.trim() }),
  },
  {
    name: "return_to_service",
    path: "return-to-service",
    key: "t",
    label: "恢复使用 Return to service",
    done: "已恢复使用 Returned to service",
    available: (a) => a.state === "out_of_service" || "未停用 Not out of service",
    fields: [{ name: "note", label: "备注（可选）Note (optional)", kind: "text" }],
    body: note,
  },
];

export const actionByKey = (key) => ACTIONS.find((action) => action.key === key);

/** Whether the logged-in role may take `action` at all (a guard may not acknowledge). */
export const mayRun = (action) => may("POST", `/api/alarms/{alarm_id}/${action.path}`);

/**
 * Run `action` on `alarm`: straight away, or after its dialog. `onChanged(newAlarm)` gets the
 * server's answer so the page updates before the stream echoes it.
 */
export async function runAction(action, alarm, onChanged = () => {}) {
  if (!mayRun(action)) {
    toast(`${action.label}: 您的角色不能执行此操作 your role may not do this`, "error");
    return null;
  }
  const available = action.available(alarm);
  if (available !== true) {
    toast(`${action.label}: ${available}`, "error");
    return null;
  }
  const send = async (body) => {
    const changed = await alarmAction(alarm.id, action.path, body);
    onChanged(changed);
    toast(`${action.done}: ${alarm.text}`, "ok");
    return changed;
  };
  if (!action.fields) {
    try {
      return await send({});
    } catch (error) {
      toast(`${action.label} 失败 failed: ${error.message}`, "error");
      return null;
    }
  }
  return formDialog({
    id: `dialog-${action.name}`,
    title: action.label,
    subtitle: `${alarm.text} — ${alarm.device_name || alarm.device}${alarm.area ? ` @ ${alarm.area}` : ""}`,
    fields: action.fields,
    // Enter sends a one-line form; in a multi-line comment it is a new line, so Ctrl+Enter.
    submitLabel: `${action.confirm || action.label} (${action.fields.some((f) => f.kind === "textarea") ? "Ctrl+Enter" : "Enter"})`,
    onSubmit: (values) => send(action.body(values)),
  });
}

/** One button per action the role may take; unavailable ones are disabled and say why on hover. */
export function actionButtons(alarm, onChanged, { keys = true } = {}) {
  return ACTIONS.filter(mayRun).map((action) => {
    const available = action.available(alarm);
    return el(
      "button",
      {
        type: "button",
        class: `action action-${action.name}`,
        dataset: { action: action.name },
        disabled: available !== true,
        title: available === true ? `${action.label} (${action.key})` : available,
        onclick: (event) => {
          event.stopPropagation();
          runAction(action, alarm, onChanged);
        },
      },
      action.label,
      keys ? el("kbd", {}, action.key) : null,
    );
  });
}
