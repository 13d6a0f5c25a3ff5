"""Connectors: one self-describing module per vendor (see registry.py), the shared result and error model."""
