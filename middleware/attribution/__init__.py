"""Attributing corrupted traffic to the networks it comes from (AS numbers).

``PrefixTable`` (offline IP → ASN), ``WhoisResolver`` (ipwhois, off the event loop),
``Attributor`` (bounded queue, background resolution, metrics, JSONL events).
"""
