"""Parking gates in the cloud: the card records, the card list the gates decide from, and what
the gates report (passes, denials, strangers), with the booth's registrations and overrides."""
