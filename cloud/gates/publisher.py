"""Send every gate node the card list it should decide from, as a retained message.

Each ingest worker checks the latest version of every site's list on its clock and publishes it
when it has not yet sent that version: a change made through any API process reaches the gates
within a tick, a worker that restarts re-publishes (in case the broker lost its retained
messages), and two workers publishing the same version send the same snapshot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.orm import Session

from cloud.gates.cardlist import card_list, gate_nodes
from cloud.gates.cards import latest_version
from sitewatch import wire
from sitewatch.siteconfig import Site

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes], bool]  # topic, payload → sent (retained, QoS 1)


class CardListPublisher:
    def __init__(self, sites: dict[str, Site], publish: Publish) -> None:
        self.sites = sites
        self.publish = publish
        self.sent: dict[tuple[str, str], int] = {}  # (site, node) → version published

    def sync(self, session: Session) -> int:
        """Publish what is newer than what this process sent; returns how many lists went out."""
        sent = 0
        for site in self.sites.values():
            nodes = gate_nodes(site)
            if not nodes:
                continue
            version = latest_version(session, site.id)
            for node in nodes:
                if version == 0 or self.sent.get((site.id, node)) == version:
                    continue
                cards = card_list(session, site, node)
                if cards is None:
                    continue
                topic, payload = wire.encode(cards)
                if self.publish(topic, payload):
                    self.sent[(site.id, node)] = version
                    sent += 1
                    log.info(
                        "card list v%d (%d cards) published to %s/%s",
                        version,
                        len(cards.cards),
                        site.id,
                        node,
                    )
        return sent
