"""The weekly pump-room inspection: compiled from a week of data, judged, signed and sealed."""
