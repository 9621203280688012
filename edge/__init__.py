"""The edge agent: site config → drivers → named points → durable outbox → MQTT."""
