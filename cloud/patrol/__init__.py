"""Patrol: the schedules of routes, live tours judged tap by tap, their alarms and reports."""
