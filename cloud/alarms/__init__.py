"""Alarm rules and the alarm state machine."""
