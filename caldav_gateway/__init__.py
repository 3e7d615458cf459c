"""edgeward CalDAV gateway: Radicale on a dedicated port; Apple's probe paths get 404, never 401."""
