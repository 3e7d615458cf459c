"""Detecting bytes that a middlebox corrupted in transit (see ``classify``)."""
