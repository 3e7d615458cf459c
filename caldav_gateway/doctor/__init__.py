"""``caldav-gateway doctor``: check a live CalDAV deployment from an Apple client's side.

Each module holds one group of checks; every check returns a :class:`~.report.Check`
with pass/fail, what was seen, and the fix an operator should apply:

- :mod:`.tls_checks`: the certificate served without SNI (as Apple daemons sometimes
  connect), the same one with SNI, expiry, protocol version;
- :mod:`.probe_checks`: ``/.well-known/caldav``, the probe paths (404, never 401) and the
  401 that discovery needs on ``/``;
- :mod:`.discovery_checks`: with credentials, ``current-user-principal`` →
  ``calendar-home-set`` → calendars, and ``OPTIONS`` on the principal.

:func:`.runner.run_doctor` runs them in that order against a :class:`~.target.Target`.
"""
