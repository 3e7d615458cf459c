"""The edge sensor: nginx's access log (file or syslog) → classifier → attribution."""
