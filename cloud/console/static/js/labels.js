/** Bilingual (中文 + English) words for categories, priorities, states and events; formatting. */

export const CATEGORIES = {
  fire: "火警 Fire",
  supervisory: "监管 Supervisory",
  trouble: "故障 Trouble",
};

export const PRIORITIES = {
  critical: "紧急 Critical",
  high: "高 High",
  medium: "中 Medium",
  low: "低 Low",
};

export const STATES = {
  normal: "正常 Normal",
  unacknowledged: "未确认 Unacknowledged",
  acknowledged: "已确认 Acknowledged",
  rtn_unacknowledged: "已恢复未确认 Cleared, unacknowledged",
  shelved: "已搁置 Shelved",
  suppressed: "已抑制 Suppressed",
  out_of_service: "停用 Out of service",
};

/** History events: the engine's and every operator action. Unknown ones show as sent. */
export const EVENTS = {
  raised: "报警 Raised",
  cleared: "恢复 Cleared",
  returned: "恢复正常 Returned to normal",
  reraised: "再次报警 Raised again",
  acknowledged: "确认 Acknowledged",
  commented: "备注 Comment",
  shelved: "搁置 Shelved",
  unshelved: "取消搁置 Unshelved",
  shelve_expired: "搁置到期 Shelve expired",
  reset: "复位 Reset",
  out_of_service: "停用 Out of service",
  returned_to_service: "恢复使用 Returned to service",
  suppressed: "抑制 Suppressed",
  unsuppressed: "取消抑制 Unsuppressed",
};

export const label = (table, key) => table[key] ?? String(key ?? "");

const RANK = {
  state: {
    unacknowledged: 0,
    rtn_unacknowledged: 1,
    acknowledged: 2,
    shelved: 3,
    suppressed: 4,
    out_of_service: 5,
  },
  category: { fire: 0, supervisory: 1, trouble: 2 },
  priority: { critical: 0, high: 1, medium: 2, low: 3 },
};

const rank = (table, key) => table[key] ?? 99;

/** Display order: unacknowledged first, then fire > supervisory > trouble, priority, newest. */
export function compareAlarms(a, b) {
  return (
    rank(RANK.state, a.state) - rank(RANK.state, b.state) ||
    rank(RANK.category, a.category) - rank(RANK.category, b.category) ||
    rank(RANK.priority, a.priority) - rank(RANK.priority, b.priority) ||
    Date.parse(b.raised_at) - Date.parse(a.raised_at) ||
    b.id - a.id
  );
}

const pad = (n) => String(n).padStart(2, "0");

/** A time in the browser's local zone (the control room's), `YYYY-MM-DD HH:MM:SS`. */
export function formatTime(value, { date = true } = {}) {
  if (value === null || value === undefined || value === "") return "";
  const t = new Date(value);
  if (Number.isNaN(t.getTime())) return String(value);
  // A source time of 0 means "never read" (a point's placeholder before its first poll).
  if (t.getTime() <= 0) return "—";
  const day = `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}`;
  const clock = `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
  return date ? `${day} ${clock}` : clock;
}

/** "3 分钟前 3 min ago": how long an alarm has been waiting matters more than its clock time. */
export function formatAge(value, now = Date.now()) {
  const seconds = Math.max(0, Math.round((now - Date.parse(value)) / 1000));
  if (Number.isNaN(seconds)) return "";
  if (seconds < 60) return `${seconds} 秒前 ${seconds} s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} 分钟前 ${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} 小时前 ${hours} h ago`;
  const days = Math.floor(hours / 24);
  return `${days} 天前 ${days} d ago`;
}

export function formatValue(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "boolean") return value ? "是 true" : "否 false";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** The state in words, with what qualifies it (until when shelved, active or cleared). */
export function stateWords(alarm) {
  let words = label(STATES, alarm.state);
  if (alarm.state === "shelved" && alarm.shelved_until) {
    words += ` → ${formatTime(alarm.shelved_until, { date: false })}`;
  }
  return words;
}

export function conditionWords(alarm) {
  const parts = [alarm.active ? "报警中 Active" : "已恢复 Cleared"];
  if (alarm.latched) parts.push("锁存·需复位 Latched, reset needed");
  return parts.join(" · ");
}

export function deviceWords(alarm) {
  return alarm.device_name || alarm.device;
}
