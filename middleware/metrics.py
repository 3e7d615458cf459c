"""Every Prometheus metric of the middleware, declared once (``edgeward_`` prefix).

Each section belongs to one feature; import the metric from here, never redeclare it.
"""

from __future__ import annotations
