"""The command-line frame every edgeward command shares.

- ``--log-level`` and ``--log-format text|json`` on every command;
- exit codes: 0 done, 1 the work failed (a check failed, a push was not verified),
  2 usage or configuration error, 3 nothing to run, 130 interrupted;
- a configuration or input error prints one sentence (file, key, what was expected),
  never a traceback and never a secret.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from edgeward.logs import setup_logging

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_NOTHING_TO_RUN: Final = 3
EXIT_INTERRUPTED: Final = 130


class UsageError(Exception):
    """A mistake in what the user asked for; printed as one line, exit code 2."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keep the examples in descriptions as written, and show defaults: once, and only
    real ones (no ``(default: None)``, none when the help already says its default)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default in (None, False, "", [], (), argparse.SUPPRESS) or "default" in text:
            return text
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """argparse, with an unknown option named as unknown (and the nearest known one), by
    the (sub)command that does not know it, before anything else: argparse alone says
    "unrecognized arguments", or only that a required argument is missing, hiding the
    typo that caused it."""

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        argv = list(sys.argv[1:] if args is None else args)
        current: argparse.ArgumentParser = self
        for arg in argv:
            if arg == "--":
                break
            sub = _subcommand(current, arg)
            if sub is not None:
                current = sub
            elif arg.startswith("--") and arg.endswith("=--"):
                # argparse drops a "--" value and hands the option an empty list
                current.error(f"argument {arg[:-3]}: expected a value, got '--'")
            elif _looks_like_option(current, arg) and not _known(current, arg):
                name = arg.split("=", 1)[0]
                near = difflib.get_close_matches(name, list(current._option_string_actions), 1)
                hint = f" (did you mean {near[0]}?)" if near else ""
                current.error(f"unknown option {name!r}{hint}")
        return super().parse_known_args(argv, namespace)


def _subcommand(p: argparse.ArgumentParser, arg: str) -> argparse.ArgumentParser | None:
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction) and arg in action.choices:
            found: argparse.ArgumentParser = action.choices[arg]
            return found
    return None


def _looks_like_option(p: argparse.ArgumentParser, arg: str) -> bool:
    if not arg.startswith("-") or arg == "-":
        return False
    return arg.startswith("--") or not p._negative_number_matcher.match(arg)


def _known(p: argparse.ArgumentParser, arg: str) -> bool:
    name = arg.split("=", 1)[0]
    options = p._option_string_actions
    if name in options or (not name.startswith("--") and name[:2] in options):
        return True  # -x, and -xVALUE for a short option
    # a unique abbreviation, as argparse accepts one
    return (
        name.startswith("--") and p.allow_abbrev and sum(o.startswith(name) for o in options) == 1
    )


def parser(prog: str, description: str, epilog: str = "") -> argparse.ArgumentParser:
    p = Parser(prog=prog, description=description, epilog=epilog, formatter_class=HelpFormatter)
    add_logging_options(p)
    return p


def add_logging_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("logging")
    g.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="how much to log (to standard error)",
    )
    g.add_argument(
        "--log-format",
        default="text",
        choices=["text", "json"],
        help="'json' writes one JSON object per line for log shippers",
    )


def subcommands(p: argparse.ArgumentParser) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    return sub


def add_subcommand(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help: str,
    description: str = "",
    epilog: str = "",
) -> argparse.ArgumentParser:
    p = sub.add_parser(
        name,
        help=help,
        description=description or help,
        epilog=epilog,
        formatter_class=HelpFormatter,
    )
    add_logging_options(p)
    return p


def run(main: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Set up logging and run ``main(args)``, mapping errors to exit codes."""
    setup_logging(getattr(args, "log_level", "info"), getattr(args, "log_format", "text"))
    try:
        return main(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (UsageError, ValueError) as exc:
        if not isinstance(exc, UsageError) and not _is_config_error(exc):
            raise
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE


def _is_config_error(exc: BaseException) -> bool:
    """Whether ``exc`` is an :class:`edgeward.config.ConfigError`. Only a command that read
    a configuration has loaded that module (and its TOML parser): one that did not, such
    as ``dpi-report``, is spared the import, a tenth of its start-up."""
    config = sys.modules.get("edgeward.config")
    return config is not None and isinstance(exc, config.ConfigError)


def one_line(text: str) -> str:
    """``text`` with control characters escaped (a file name may hold a newline), so that an
    error stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def command_group(
    prog: str,
    description: str,
    package: str,
    names: Sequence[str],
    argv: Sequence[str] | None,
    *,
    epilog: str = "",
) -> int:
    """A command whose subcommands each live in ``<package>/cmd_<name>.py``.

    Each such module exposes ``HELP``, ``add_arguments(parser)``, ``run(args) -> int`` and
    optionally ``DESCRIPTION`` and ``EPILOG``, so a subcommand is found in one file.
    """
    args = group_parser(prog, description, package, names, epilog=epilog).parse_args(argv)
    return run(args.func, args)


def group_parser(
    prog: str, description: str, package: str, names: Sequence[str], *, epilog: str = ""
) -> argparse.ArgumentParser:
    """The parser :func:`command_group` runs (``args.func`` is the subcommand's ``run``)."""
    p = parser(prog, description, epilog)
    sub = subcommands(p)
    for name in names:
        module = importlib.import_module(f"{package}.cmd_{name}")
        sp = add_subcommand(
            sub,
            name,
            module.HELP,
            getattr(module, "DESCRIPTION", ""),
            getattr(module, "EPILOG", ""),
        )
        module.add_arguments(sp)
        sp.set_defaults(func=module.run)
    return p


def tool_group(
    prog: str,
    description: str,
    tools: Mapping[str, tuple[str, str]],
    argv: Sequence[str],
    *,
    epilog: str = "",
) -> int:
    """``prog TOOL [ARGS...]``: run the module ``tools[TOOL][0]``'s ``main(ARGS)``.

    For ``python -m PACKAGE`` over several console scripts: the tool parses its own
    arguments; the group's help, unknown-tool error and exit codes are this frame's.
    """
    if argv and argv[0] in tools:
        module = importlib.import_module(tools[argv[0]][0])
        return int(module.main(list(argv[1:])))
    p = Parser(prog=prog, description=description, epilog=epilog, formatter_class=HelpFormatter)
    sub = subcommands(p)
    for name, (_module, help) in tools.items():
        sub.add_parser(name, help=help, add_help=False)
    p.parse_args(argv[:1])  # --help (exit 0) or names what is wrong (exit 2)
    return EXIT_USAGE  # not reached: an empty or unknown TOOL is refused above


def seconds(*, zero: bool = False, most: float = 86400.0) -> Callable[[str], float]:
    """An argparse ``type``: a finite number of seconds above 0 (or 0 with ``zero``) and
    at most ``most``; argparse names the option in its error (exit 2)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        low_ok = value >= 0 if zero else value > 0
        if not (math.isfinite(value) and low_ok and value <= most):
            low = "0 or more" if zero else "above 0"
            raise argparse.ArgumentTypeError(
                f"expected a number of seconds {low} and at most {most:.0f}, got {text!r}"
            )
        return value

    return parse


def whole(low: int, high: int, unit: str = "") -> Callable[[str], int]:
    """An argparse ``type``: a whole number (of ``unit``, named in the error) from ``low``
    to ``high``."""
    what = f"a whole number of {unit}" if unit else "a whole number"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {what} from {low} to {high}, got {text!r}")
        return value

    return parse


# argparse ``type=`` for a link's validity: whole seconds, one second to a week.
link_seconds: Final = whole(1, 7 * 86400, "seconds")
