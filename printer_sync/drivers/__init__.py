"""Printer drivers: one module per device family behind :class:`~.base.Driver`."""
