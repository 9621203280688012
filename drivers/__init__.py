"""Field-device protocols: polling, decoding and framing. No MQTT and no site logic here."""
