"""Connectors: one module per database or framework, imported explicitly."""
