"""vpn_provision: a personal VPN (WireGuard and IKEv2) provisioned per device.

State (settings TOML, SQLite, CA, server keys) lives in one directory; every server and
client file is rendered from it; each device's files are downloaded once through an
expiring signed link. See ``vpn_provision/README.md``.
"""
