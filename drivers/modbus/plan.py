"""Group register specs into as few Modbus read requests as the protocol allows."""

from __future__ import annotations

from dataclasses import dataclass

from drivers.modbus.codec import RegisterSpec, Table

# Protocol limits per request (Modbus application protocol v1.1b3, 6.1-6.4).
MAX_BITS = 2000
MAX_REGISTERS = 125


@dataclass(frozen=True)
class ReadBlock:
    """One read request: `count` contiguous addresses of `table`, and the specs inside them."""

    table: Table
    address: int
    count: int
    specs: tuple[RegisterSpec, ...]


def plan_reads(specs: list[RegisterSpec]) -> list[ReadBlock]:
    """Merge specs whose addresses touch or overlap; gaps are not bridged (they may not exist)."""
    blocks: list[ReadBlock] = []
    by_table: dict[Table, list[RegisterSpec]] = {}
    for spec in specs:
        by_table.setdefault(spec.table, []).append(spec)
    for table, table_specs in by_table.items():
        limit = MAX_BITS if table in ("coil", "discrete_input") else MAX_REGISTERS
        table_specs.sort(key=lambda s: (s.address, s.width))
        start = end = -1
        members: list[RegisterSpec] = []
        for spec in table_specs:
            spec_end = spec.address + spec.width
            if members and spec.address <= end and max(end, spec_end) - start <= limit:
                end = max(end, spec_end)
                members.append(spec)
                continue
            if members:
                blocks.append(ReadBlock(table, start, end - start, tuple(members)))
            start, end, members = spec.address, spec_end, [spec]
        if members:
            blocks.append(ReadBlock(table, start, end - start, tuple(members)))
    return blocks
