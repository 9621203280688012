"""Sitewatch: what the edge and the cloud share (wire contract, site config, CLI)."""

__version__ = "0.1.0"
