"""Every server and client file, rendered from the state.

:func:`render` is a pure function of a :class:`~vpn_provision.render.snapshot.Snapshot`
(settings, CA, CRL, server keys, active devices): the same state renders the same bytes,
so a render can be checked and diffed before it is installed. Nothing random happens here:
identifiers, the CRL and the .p12 files were made when the state changed.
"""

from __future__ import annotations

from vpn_provision.render.snapshot import Snapshot, snapshot
from vpn_provision.render.tree import File, render, write_tree

__all__ = ["File", "Snapshot", "render", "snapshot", "write_tree"]
