"""The cloud service: ingest, store, engines (alarms, ...), API and console. Knows no Modbus."""
