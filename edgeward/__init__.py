"""Conventions shared by the three edgeward tools, written once.

- :mod:`edgeward.config` — TOML files into typed, validated dataclasses; errors name
  the file, the key and what was expected.
- :mod:`edgeward.secrets` — a string wrapper that never prints itself.
- :mod:`edgeward.logs` — logging set-up, plain or JSON lines for operators.
- :mod:`edgeward.metrics` — the Prometheus ``/metrics`` ASGI app and a standalone server.
- :mod:`edgeward.netaddr` — ``HOST:PORT`` parsing for ``--listen`` options.
- :mod:`edgeward.pki` — local CA and certificates for tests and the demo; the certificate a
  server presents (with or without SNI).
- :mod:`edgeward.cli` — the common command-line frame (log options, exit codes).
- :mod:`edgeward.run` — what ``make run`` starts (:mod:`edgeward.procfile`,
  :mod:`edgeward.foreground`, :mod:`edgeward.shipped` for the deploy files a wheel carries).
- :mod:`edgeward.optional` — a missing optional module as one line naming the extra.
- :mod:`edgeward.which`, :mod:`edgeward.nginx_conf` — system tools (also in sbin); the
  shipped nginx files rendered under a local prefix.
"""

__version__ = "0.1.0"
