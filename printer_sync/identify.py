"""Which driver fits a printer, asked over SNMP (v2c), for ``driver = "auto"``.

A printer says what it is in three places: ``sysDescr`` (free text, e.g. "EPSON ET-16600
Series"), ``sysObjectID`` (an OID under its maker's enterprise number: Epson's is
1.3.6.1.4.1.1248) and the Printer-MIB name (``prtGeneralPrinterName``; older firmware only
has ``hrDeviceDescr``). The enterprise OID is the most reliable: text changes with
firmware and marketing, the enterprise number does not. Text is the fallback for print
servers and firmwares that report a generic ``sysObjectID``.

The community string works like a password on SNMP v2c, so it never appears in logs or
errors. A v2c agent does not answer a wrong community at all: a timeout therefore says
"wrong community, SNMP off, or host down", which is all the protocol lets us know.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from edgeward.logs import get_logger
from edgeward.netaddr import format_hostport

log = get_logger("printer_sync.identify")

SYS_DESCR: Final = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID: Final = "1.3.6.1.2.1.1.2.0"
PRT_GENERAL_PRINTER_NAME: Final = "1.3.6.1.2.1.43.5.1.1.16.1"
HR_DEVICE_DESCR: Final = "1.3.6.1.2.1.25.3.2.1.3.1"

# (enterprise OID prefix, driver, text that names the maker). One row per driver, in
# the spirit of acme.sh's one-file-per-device: adding a driver adds a row.
VENDORS: Final[tuple[tuple[str, str, str], ...]] = (("1.3.6.1.4.1.1248", "epson", "EPSON"),)


class IdentifyError(Exception):
    """The printer could not be asked (no answer, SNMP error); ``str()`` says what to check."""


@dataclass(frozen=True)
class Identity:
    host: str
    port: int
    sys_descr: str | None
    sys_object_id: str | None
    printer_name: str | None
    driver: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "sys_descr": self.sys_descr,
            "sys_object_id": self.sys_object_id,
            "printer_name": self.printer_name,
            "driver": self.driver,
            "reason": self.reason,
        }


def _under(oid: str, prefix: str) -> bool:
    # Compare by arcs: 1.3.6.1.4.1.12480 is not under 1.3.6.1.4.1.1248.
    return oid == prefix or oid.startswith(prefix + ".")


def pick_driver(sys_object_id: str | None, texts: tuple[str | None, ...]) -> tuple[str | None, str]:
    """The driver for these SNMP answers and the reason, or ``(None, why not)``."""
    oid = (sys_object_id or "").strip().lstrip(".")
    for prefix, driver, _ in VENDORS:
        if oid and _under(oid, prefix):
            return driver, f"sysObjectID {oid} is under {prefix}"
    for _prefix, driver, marker in VENDORS:
        for text in texts:
            if text and marker.casefold() in text.casefold():
                return driver, f"{text.strip()!r} names {marker}"
    shown = oid or "none"
    return None, f"no driver knows sysObjectID {shown} or the printer's description"


def _text(value: Any) -> str | None:
    """A varbind value as text, or None for noSuchObject/noSuchInstance/endOfMibView."""
    from pysnmp.proto import rfc1905

    if value is None or isinstance(
        value, rfc1905.NoSuchObject | rfc1905.NoSuchInstance | rfc1905.EndOfMibView
    ):
        return None
    if hasattr(value, "asOctets"):
        return bytes(value.asOctets()).decode("utf-8", "replace").strip("\x00").strip() or None
    return str(value.prettyPrint()).strip() or None


async def query(
    host: str,
    community: str,
    port: int = 161,
    *,
    try_seconds: float = 2.0,
    retries: int = 1,
) -> dict[str, str | None]:
    """GET the identifying OIDs in one request; ``{oid: text or None}``."""
    # Imported here: pysnmp takes ~0.5 s to import and only this command needs it.
    from pysnmp.hlapi.v3arch.asyncio import (
        CommunityData,
        ContextData,
        ObjectIdentity,
        ObjectType,
        SnmpEngine,
        Udp6TransportTarget,
        UdpTransportTarget,
        get_cmd,
    )

    oids = (SYS_DESCR, SYS_OBJECT_ID, PRT_GENERAL_PRINTER_NAME, HR_DEVICE_DESCR)
    where = format_hostport(host, port)
    engine = SnmpEngine()
    try:
        target_cls = Udp6TransportTarget if ":" in host else UdpTransportTarget
        try:
            target = await target_cls.create((host, port), timeout=try_seconds, retries=retries)
        except Exception as exc:  # pysnmp wraps resolution errors in PySnmpError
            raise IdentifyError(f"{where}: cannot resolve the address ({exc})") from None
        error_indication, error_status, _index, var_binds = await get_cmd(
            engine,
            # v2c on purpose: printers' read-only identity; most lack v3 users.
            CommunityData(community, mpModel=1),  # noqa: S508
            target,
            ContextData(),
            *(ObjectType(ObjectIdentity(oid)) for oid in oids),
            lookupMib=False,
        )
    finally:
        engine.close_dispatcher()
    if error_indication:
        raise IdentifyError(
            f"{where}: no SNMP answer ({error_indication}); check that SNMP v2c is enabled "
            "on the printer, the community is right (a wrong one gets no answer at all) "
            "and the port is reachable"
        )
    if error_status:
        raise IdentifyError(f"{where}: the agent answered {error_status.prettyPrint()}")
    return {str(name): _text(value) for name, value in var_binds}


async def identify(
    host: str,
    community: str = "public",
    port: int = 161,
    *,
    try_seconds: float = 2.0,
    retries: int = 1,
) -> Identity:
    """Ask ``host`` over SNMP v2c what it is and pick a driver (``.driver`` may be None)."""
    answers = await query(host, community, port, try_seconds=try_seconds, retries=retries)
    name = answers.get(PRT_GENERAL_PRINTER_NAME) or answers.get(HR_DEVICE_DESCR)
    descr = answers.get(SYS_DESCR)
    oid = answers.get(SYS_OBJECT_ID)
    driver, reason = pick_driver(oid, (descr, name))
    log.info(
        "identified %s: driver=%s (%s)",
        format_hostport(host, port),
        driver or "none",
        reason,
        extra={"host": host, "driver": driver or ""},
    )
    return Identity(host, port, descr, oid, name, driver, reason)
