"""TOML configuration into typed, validated settings.

One declarative schema per tool: a frozen dataclass whose fields carry the default,
the help text and (optionally) a converter, as Radicale's config schema does. Loading
checks every key against the schema and converts by the field's type, so an error
always names the file, the key and what was expected::

    @dataclass(frozen=True)
    class Printer:
        name: str = setting(help="a short name used in logs and metrics")
        url: str = setting(help="the printer's base URL", check=must_be_url)
        renew_before_days: int = setting(20, help="push when fewer days are left")

    cfg = load_file(Settings, Path("printers.toml"))

Supported field types: ``str``, ``int``, ``float``, ``bool``, ``pathlib.Path`` (relative
paths resolve against the config file's folder), :class:`~edgeward.secrets.Secret`,
``Literal[...]``, ``X | None``, ``list[X]``/``tuple[X, ...]``, ``dict[str, X]`` and nested
dataclasses (TOML tables; ``list[Dataclass]`` is an array of tables such as
``[[printer]]``). Secret values never appear in error messages.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, cast, get_args, get_origin

from edgeward.netaddr import parse_hostport
from edgeward.secrets import Secret

T = TypeVar("T")

_MISSING: Any = dataclasses.MISSING


class ConfigError(ValueError):
    """A configuration mistake. ``str(err)`` is a full sentence for the operator."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {problem}")


def setting(
    default: Any = _MISSING,
    *,
    help: str,
    default_factory: Callable[[], Any] | None = None,
    check: Callable[[Any], None] | None = None,
    key: str | None = None,
    item_label: str | None = None,
) -> Any:
    """Declare one setting: default (omit it to make the key required), help, check.

    ``check`` receives the converted value and raises ``ValueError`` with a message
    that says what was expected. ``key`` overrides the TOML key (e.g. ``"printer"`` for a
    field named ``printers``). ``item_label`` names the items of an array of tables in
    errors by one of their keys: ``printer "office".url`` rather than ``printer[0].url``.
    """
    metadata = {"help": help, "check": check, "key": key, "item_label": item_label}
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def derived(default: Any = None) -> Any:
    """A field the program fills in after loading (never a key of the file), e.g. the
    file's own path or a secret read from a file the config names; set it with
    ``dataclasses.replace``."""
    return dataclasses.field(default=default, repr=False, metadata={"derived": True})


def load_file(cls: type[T], path: str | Path, *, section: str | None = None) -> T:
    """Read a TOML file (or one table of it) into ``cls``."""
    p = Path(path)
    source = str(p)
    data = read_toml(p)
    if section is not None:
        table = data.get(section, {})
        if not isinstance(table, dict):
            raise ConfigError(source, section, "expected a table")
        data = table
    return load_mapping(cls, data, source=source, base_dir=p.parent, prefix=section or "")


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML file's tables; ``ConfigError`` naming the file when it cannot be read.

    For a tool that merges the file with command-line flags before :func:`load_mapping`.
    """
    source = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(source, "", "file not found") from None
    except OSError as exc:
        raise ConfigError(source, "", f"cannot read: {exc.strerror}") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(source, "", "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "", f"not valid TOML: {exc}") from None


def load_mapping(
    cls: type[T],
    data: Mapping[str, Any],
    *,
    source: str = "<config>",
    base_dir: Path | None = None,
    prefix: str = "",
) -> T:
    """Validate and convert ``data`` into ``cls`` (a dataclass built with :func:`setting`)."""
    return cast(T, _Loader(source, base_dir or Path.cwd()).dataclass(cls, data, prefix))


def _key_of(f: dataclasses.Field[Any]) -> str:
    return str(f.metadata.get("key") or f.name)


def _join(prefix: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    return f"{prefix}.{key}" if prefix else key


def _describe(tp: Any) -> str:
    origin = get_origin(tp)
    if tp is str:
        return "a string"
    if tp is bool:
        return "true or false"
    if tp is int:
        return "a whole number"
    if tp is float:
        return "a number"
    if tp is Path:
        return "a path (string)"
    if tp is Secret:
        return "a secret (string)"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (list, tuple):
        return "a list of " + _describe(get_args(tp)[0]).removeprefix("a ").removeprefix("an ")
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_describe(a) for a in get_args(tp) if a is not type(None))
    if dataclasses.is_dataclass(tp):
        return "a table"
    if origin is dict:
        return "a table"
    return getattr(tp, "__name__", str(tp))


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Loader:
    def __init__(self, source: str, base_dir: Path) -> None:
        self.source = source
        self.base_dir = base_dir

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.source, key, problem)

    def dataclass(self, cls: type[Any], data: Any, prefix: str) -> Any:
        if not isinstance(data, Mapping):
            raise self.fail(prefix, f"expected a table, got {_shown(data)}")
        hints = typing.get_type_hints(cls)
        fields = {
            _key_of(f): f
            for f in dataclasses.fields(cls)
            if f.init and not f.metadata.get("derived")
        }
        unknown = sorted(set(data) - set(fields))
        if unknown:
            known = ", ".join(sorted(fields))
            raise self.fail(_join(prefix, unknown[0]), f"unknown key (known keys: {known})")
        values: dict[str, Any] = {}
        for key, f in fields.items():
            full = _join(prefix, key)
            if key not in data:
                if f.default is _MISSING and f.default_factory is _MISSING:
                    raise self.fail(full, f"required key missing ({f.metadata.get('help', '')})")
                continue
            label = f.metadata.get("item_label")
            if label and isinstance(data[key], list):
                value = self.labelled_items(hints[f.name], data[key], key, label, prefix)
            else:
                value = self.convert(hints[f.name], data[key], full)
            check = f.metadata.get("check")
            if check is not None:
                try:
                    check(value)
                except ValueError as exc:
                    raise self.fail(full, str(exc)) from None
            values[f.name] = value
        try:
            return cls(**values)
        except ValueError as exc:  # __post_init__ cross-field checks
            raise self.fail(prefix, str(exc)) from None

    def labelled_items(
        self, tp: Any, items: list[Any], key: str, label: str, prefix: str
    ) -> list[Any]:
        """An array of tables whose errors name each item by its ``label`` key."""
        (item_tp,) = get_args(tp)[:1]
        out = []
        for i, item in enumerate(items):
            name = item.get(label) if isinstance(item, Mapping) else None
            where = f'{key} "{name}"' if isinstance(name, str) and name else f"{key}[{i}]"
            out.append(self.convert(item_tp, item, _join(prefix, where) if prefix else where))
        return out

    def convert(self, tp: Any, value: Any, key: str) -> Any:
        origin = get_origin(tp)
        secret = tp is Secret or Secret in get_args(tp)

        def wrong() -> ConfigError:
            got = "a secret of the wrong type" if secret else _shown(value)
            return self.fail(key, f"expected {_describe(tp)}, got {got}")

        if origin in (types.UnionType, typing.Union):
            options = [a for a in get_args(tp) if a is not type(None)]
            if len(options) == 1:  # "X | None": X's own error says more than "expected X"
                return self.convert(options[0], value, key)
            for option in options:
                try:
                    return self.convert(option, value, key)
                except ConfigError:
                    continue
            raise wrong()
        if tp is Any:
            return value
        if tp is bool:
            if isinstance(value, bool):
                return value
            raise wrong()
        if tp is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            raise wrong()
        if tp is float:
            if isinstance(value, int | float) and not isinstance(value, bool):
                try:
                    return float(value)
                except OverflowError:  # an integer of hundreds of digits
                    raise self.fail(
                        key, f"expected a number, got {_shown(value)[:20]}..."
                    ) from None
            raise wrong()
        if tp is str:
            if isinstance(value, str):
                return value
            raise wrong()
        if tp is Secret:
            if isinstance(value, str) and value:
                return Secret(value)
            raise wrong()
        if tp is Path:
            if isinstance(value, str) and value and "\x00" not in value:
                try:
                    p = Path(value).expanduser()
                except RuntimeError:  # "~name" of a user this machine does not have
                    user = value[1:].split("/", 1)[0]
                    raise self.fail(key, f"no user {_shown(user)[:40]} to expand ~ for") from None
                return p if p.is_absolute() else self.base_dir / p
            raise wrong()
        if origin is Literal:
            if value in get_args(tp):
                return value
            raise wrong()
        if origin is list or origin is tuple:
            if not isinstance(value, list):
                raise wrong()
            (item_tp, *_) = get_args(tp)
            items = [self.convert(item_tp, v, _join(key, i)) for i, v in enumerate(value)]
            return items if origin is list else tuple(items)
        if origin is dict:
            if not isinstance(value, Mapping):
                raise wrong()
            _, value_tp = get_args(tp)
            return {str(k): self.convert(value_tp, v, _join(key, str(k))) for k, v in value.items()}
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            return self.dataclass(tp, value, key)
        raise self.fail(key, f"unsupported setting type {tp!r} (a bug in the schema)")


# Shared ``check=`` validators (one copy for every tool's schema).


def positive(value: float) -> None:
    """A finite number greater than 0 (NaN and the infinities are not numbers of seconds)."""
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"expected a finite number greater than 0, got {value!r}")


def positive_at_most(limit: float) -> Callable[[float], None]:
    """:func:`positive`, and at most ``limit`` (what timers and sockets can hold)."""

    def check(value: float) -> None:
        positive(value)
        if value > limit:
            raise ValueError(f"expected at most {limit:g}, got {value:g}")

    return check


def not_negative_at_most(limit: float) -> Callable[[float], None]:
    """A finite number from 0 to ``limit`` (a delay that may be switched off with 0)."""

    def check(value: float) -> None:
        if not (math.isfinite(value) and 0 <= value <= limit):
            raise ValueError(f"expected a finite number from 0 to {limit:g}, got {value!r}")

    return check


def whole_between(low: int, high: int) -> Callable[[int], None]:
    """A whole number from ``low`` to ``high``: no huge value that would make a tool spawn,
    allocate or wait without end (a huge one is shown by its number of digits)."""

    def check(value: int) -> None:
        if not low <= value <= high:
            text = str(value) if abs(value) < 10**20 else f"a number of {len(str(value))} digits"
            raise ValueError(f"expected a whole number from {low} to {high}, got {text}")

    return check


def listen_address(value: str) -> None:
    """``HOST:PORT`` with a numeric or bracketed IPv6 host and a port from 0 to 65535."""
    parse_hostport(value)


def metrics_address(value: str) -> None:
    """A ``/metrics`` address (``HOST:PORT``), or ``off`` (see :mod:`edgeward.lifecycle`)."""
    if value not in ("", "off"):  # the empty string: what older configs wrote for off
        parse_hostport(value)
