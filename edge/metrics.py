"""Prometheus metrics of one edge node, read from the parts that own the state (outbox, link,
pollers) at scrape time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from edge.agent import EdgeAgent


class EdgeCollector(Collector):
    def __init__(self, agent: EdgeAgent) -> None:
        self.agent = agent

    def collect(self) -> Iterator[Metric]:
        agent = self.agent
        labels = [agent.site.id, agent.node.id]
        rows = GaugeMetricFamily(
            "sitewatch_outbox_rows",
            "Outbox rows by message kind and state (unsent, handed_over)",
            labels=["site", "node", "kind", "state"],
        )
        confirmed = CounterMetricFamily(
            "sitewatch_outbox_confirmed",
            "Messages the cloud confirmed it stored, by kind",
            labels=["site", "node", "kind"],
        )
        evicted = CounterMetricFamily(
            "sitewatch_outbox_evicted",
            "Messages evicted to keep within the disk budget, by kind",
            labels=["site", "node", "kind"],
        )
        oldest = GaugeMetricFamily(
            "sitewatch_outbox_oldest_unconfirmed_seconds",
            "Age of the oldest message the cloud has not confirmed (0 when none)",
            labels=["site", "node"],
        )
        now_ms = time.time() * 1000
        ages = []
        for kind, status in agent.outbox.status().items():
            rows.add_metric([*labels, kind, "unsent"], status.unsent)
            rows.add_metric([*labels, kind, "handed_over"], status.handed_over)
            confirmed.add_metric([*labels, kind], status.confirmed)
            evicted.add_metric([*labels, kind], status.evicted)
            if status.oldest_unconfirmed_ms is not None:
                ages.append((now_ms - status.oldest_unconfirmed_ms) / 1000)
        oldest.add_metric(labels, max(ages, default=0.0))
        yield from (rows, confirmed, evicted, oldest)

        bytes_used = GaugeMetricFamily(
            "sitewatch_outbox_bytes", "Bytes held by the outbox", labels=["site", "node"]
        )
        bytes_used.add_metric(labels, agent.outbox.used_bytes())
        over = GaugeMetricFamily(
            "sitewatch_outbox_over_budget",
            "1 when only events and alarms are left and the outbox still exceeds its budget",
            labels=["site", "node"],
        )
        over.add_metric(labels, 1.0 if agent.outbox.over_budget else 0.0)
        published = CounterMetricFamily(
            "sitewatch_published_messages", "Messages handed to the broker", labels=["site", "node"]
        )
        published.add_metric(labels, agent.link.published_count)
        connected = GaugeMetricFamily(
            "sitewatch_broker_connected", "1 while connected to the broker", labels=["site", "node"]
        )
        connected.add_metric(labels, 1.0 if agent.link.connected else 0.0)
        last_confirmation = GaugeMetricFamily(
            "sitewatch_last_confirmation_timestamp_seconds",
            "When the cloud last confirmed anything (unix time; 0 if never)",
            labels=["site", "node"],
        )
        last_confirmation.add_metric(labels, (agent.link.last_confirmed_ms or 0) / 1000)
        yield from (bytes_used, over, published, connected, last_confirmation)

        errors = CounterMetricFamily(
            "sitewatch_poll_errors", "Failed polls per device", labels=["site", "node", "device"]
        )
        online = GaugeMetricFamily(
            "sitewatch_device_online",
            "1 while the device answers",
            labels=["site", "node", "device"],
        )
        for device_id, poller in agent.pollers.items():
            errors.add_metric([*labels, device_id], poller.error_count)
            online.add_metric([*labels, device_id], 1.0 if poller.online else 0.0)
        yield from (errors, online)


def serve_metrics(agent: EdgeAgent, host: str, port: int) -> WSGIServer:
    """Serve /metrics on host:port (0 picks a free port); `server_port` says which, and
    `shutdown()` stops it."""
    registry = CollectorRegistry()
    registry.register(EdgeCollector(agent))
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server
