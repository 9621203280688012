"""Sealed records: signed legal records (handovers, inspections) kept unchangeable, chained by hash."""
