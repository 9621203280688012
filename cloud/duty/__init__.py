"""The fire control room's duty: shifts and rosters, the duty log, and the shift handover."""
