"""Simulate a whole site: Modbus devices for every node with buses, and every card reader.

`site_for_edge()` gives the edges a site whose buses and reader ports point at the simulators.
"""

from __future__ import annotations

import contextlib
import copy
from types import TracebackType

import yaml

from simulators.modbus_server import ModbusSimulator
from simulators.pumproom import PumpRoom
from simulators.readers import LineReaderSim, Pn532Sim, Rdm6300Sim, WiegandConverterSim
from sitewatch.broker import port_is_free
from sitewatch.siteconfig import Site, TcpBus

ReaderSim = LineReaderSim | Pn532Sim | Rdm6300Sim | WiegandConverterSim

_READER_SIMS: dict[str, type[ReaderSim]] = {
    "line": LineReaderSim,
    "pn532": Pn532Sim,
    "rdm6300": Rdm6300Sim,
    "wiegand": WiegandConverterSim,
}


class SiteSimulator:
    """Every simulated device of a site; use as `async with`."""

    def __init__(self, site: Site, use_site_ports: bool = False) -> None:
        """`use_site_ports`: serve TCP buses on the site file's port where it is free, so an edge
        reading the unchanged site file finds them; otherwise the OS picks free ports."""
        self.site = site
        self.use_site_ports = use_site_ports
        self.modbus: dict[str, ModbusSimulator] = {}
        self.readers: dict[tuple[str, str], ReaderSim] = {}
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> SiteSimulator:
        try:
            for node in self.site.nodes.values():
                if node.devices:
                    sim = ModbusSimulator(self.site, node.id, port=self._port_for(node.id))
                    self.modbus[node.id] = await self._stack.enter_async_context(sim)
                    await PumpRoom(sim).normal()
                for reader_id, config in node.readers.items():
                    reader = self._stack.enter_context(_READER_SIMS[config.family]())
                    self.readers[(node.id, reader_id)] = reader
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    def _port_for(self, node: str) -> int:
        ports = {b.port for b in self.site.nodes[node].buses.values() if isinstance(b, TcpBus)}
        if self.use_site_ports and len(ports) == 1:
            port = next(iter(ports))
            if port_is_free("127.0.0.1", port):
                return port
        return 0

    def edge_site_yaml(self) -> str:
        """The site file as an edge should read it to reach these simulators."""
        source = copy.deepcopy(self.site.source)
        if self.site.path is not None:
            base = self.site.path.parent
            source["profiles_dir"] = str(base / source.get("profiles_dir", "devices"))
        edge_site = self.site_for_edge()
        for node_id, node in edge_site.nodes.items():
            written = source["nodes"][node_id]
            for bus_id, bus in node.buses.items():
                written["buses"][bus_id] = bus.model_dump(mode="json")
            for reader_id, reader in node.readers.items():
                written["readers"][reader_id]["port"] = reader.port
        return yaml.safe_dump(source, allow_unicode=True, sort_keys=False)

    def room(self, node: str) -> PumpRoom:
        return PumpRoom(self.modbus[node])

    def reader(self, node: str, reader: str) -> ReaderSim:
        return self.readers[(node, reader)]

    def site_for_edge(self) -> Site:
        site = self.site
        for node_id, sim in self.modbus.items():
            for bus_id, port in sim.ports.items():
                site = site.with_bus(node_id, bus_id, host=sim.host, port=port)
            for bus_id, path in sim.serial_paths.items():
                site = site.with_bus(node_id, bus_id, device=path)
        for (node_id, reader_id), reader in self.readers.items():
            site = site.with_reader_port(node_id, reader_id, reader.path)
        return site

    def describe(self) -> list[tuple[str, str]]:
        """(what, where) for everything simulated, for the demo's summary."""
        rows = []
        for node_id, sim in self.modbus.items():
            rows += [
                (f"{node_id}/{b}", f"modbus+tcp://{sim.host}:{p}") for b, p in sim.ports.items()
            ]
            rows += [(f"{node_id}/{b}", f"modbus+rtu://{p}") for b, p in sim.serial_paths.items()]
        for (node_id, reader_id), reader in self.readers.items():
            family = self.site.nodes[node_id].readers[reader_id].family
            rows.append((f"{node_id}/{reader_id}", f"{family} reader on {reader.path}"))
        return rows
