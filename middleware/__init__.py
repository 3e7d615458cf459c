"""edgeward middleware: signed URLs, corrupted-traffic sensors, attribution to networks.

Pure ASGI middleware classes (configuration validated once in ``__init__``, non-HTTP
scopes passed through untouched), plus the edge sensor ``dpi-watch`` and ``dpi-report``.
"""
