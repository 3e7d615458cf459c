"""Helpers shared by the tests: real servers on loopback, external tools, the network guard."""
