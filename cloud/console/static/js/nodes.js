/**
 * The node strip: each edge node online or offline, and how many of its devices answer. Read
 * again on each snapshot and when a trouble alarm changes (links and devices raise troubles),
 * so it follows the stream instead of polling.
 */

import { listNodes } from "./api.js";
import { el, fill } from "./dom.js";
import { steady } from "./steady.js";

export class NodeStrip {
  constructor(container, onNodes = () => {}) {
    this.container = container;
    this.onNodes = onNodes;
    this.timer = null;
  }

  /** Read /api/nodes soon; a burst of trouble alarms makes one read. */
  refresh() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.load(), 300);
  }

  async load() {
    try {
      const nodes = await listNodes();
      steady("nodes", () => {
        this.render(nodes);
        this.onNodes(nodes);
      });
    } catch {
      // The alarms show link troubles anyway; keep the last strip.
    }
  }

  render(nodes) {
    fill(
      this.container,
      el("span", { class: "muted" }, "边缘节点 Edge nodes: "),
      nodes.map((n) => {
        const down = n.devices.filter((d) => !d.online).length;
        return el(
          "span",
          { class: `node ${n.online ? "on" : "off"}`, dataset: { node: n.node, online: String(n.online) }, title: `${n.site}/${n.node}` },
          el("span", { class: "dot" }),
          n.name || n.node,
          n.online ? " 在线 online" : " 离线 offline",
          n.online && down ? el("span", { class: "sub" }, ` · ${down} 台设备无响应 device(s) not responding`) : null,
        );
      }),
    );
  }
}
