"""dpi-report: which networks corrupt traffic (reading nginx logs and event files)."""
