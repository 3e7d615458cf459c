"""Apple profile schemas, written from Apple's published payload keys
(``apple/device-management``, ``mdm/profiles``: ``TopLevel.yaml``, ``CommonPayloadKeys.yaml``,
``com.apple.security.root.yaml``), and a validator: no unknown key, required keys present,
types and allowed values right. Each tool's tests add the payload types it writes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class K:
    """One key: its plist type, whether required, allowed values or a nested schema."""

    type: type | tuple[type, ...]
    required: bool = False
    allowed: tuple[Any, ...] = ()
    sub: dict[str, K] | None = None
    items: K | None = None


S, INT, B, D, A, DATA = str, int, bool, dict, list, bytes
BIT = (0, 1)

COMMON = {  # CommonPayloadKeys.yaml
    "PayloadIdentifier": K(S, True),
    "PayloadUUID": K(S, True),
    "PayloadType": K(S, True),
    "PayloadVersion": K(INT, True),
    "PayloadDescription": K(S),
    "PayloadDisplayName": K(S),
    "PayloadOrganization": K(S),
}
TOP = {  # TopLevel.yaml
    **COMMON,
    "PayloadType": K(S, True, ("Configuration",)),
    "PayloadContent": K(A, True),
    "IsEncrypted": K(B),
    "EncryptedPayloadContent": K(DATA),
    "HasRemovalPasscode": K(B),
    "PayloadRemovalDisallowed": K(B),
    "PayloadScope": K(S, False, ("System", "User")),
    "TargetDeviceType": K(INT),
}
ROOT = {  # com.apple.security.root.yaml
    **COMMON,
    "PayloadCertificateFileName": K(S),
    "PayloadContent": K(DATA, True),
}


def validate(value: dict[str, Any], schema: dict[str, K], where: str) -> list[str]:
    errors = [f"{where}.{k}: unknown key" for k in value if k not in schema]
    for key, spec in schema.items():
        if key not in value:
            if spec.required:
                errors.append(f"{where}.{key}: required key missing")
            continue
        v = value[key]
        if (isinstance(v, bool) and spec.type is int) or not isinstance(v, spec.type):
            errors.append(f"{where}.{key}: {type(v).__name__}, expected {spec.type}")
            continue
        if spec.allowed and v not in spec.allowed:
            errors.append(f"{where}.{key}: {v!r} not one of {spec.allowed}")
        if spec.sub is not None:
            errors += validate(v, spec.sub, f"{where}.{key}")
        if spec.items is not None:
            for i, item in enumerate(v):
                if not isinstance(item, spec.items.type):
                    errors.append(f"{where}.{key}[{i}]: wrong type")
                elif spec.items.sub is not None:
                    errors += validate(item, spec.items.sub, f"{where}.{key}[{i}]")
    return errors


def check_profile(profile: dict[str, Any], payloads: dict[str, dict[str, K]]) -> list[str]:
    errors = validate(profile, TOP, "profile")
    for i, payload in enumerate(profile.get("PayloadContent", [])):
        schema = payloads.get(payload.get("PayloadType"))
        if schema is None:
            errors.append(f"payload[{i}]: unexpected PayloadType {payload.get('PayloadType')!r}")
        else:
            errors += validate(payload, schema, f"payload[{i}]")
    return errors
