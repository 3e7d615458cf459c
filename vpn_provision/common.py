"""What every subcommand shares: ``--state DIR`` and ``--json``."""

from __future__ import annotations

import argparse
import json
import sys

from vpn_provision.state import State, state_dir


def add_state_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--state",
        metavar="DIR",
        help="the state directory (default: $VPN_PROVISION_STATE, else /var/lib/vpn-provision)",
    )


def add_json_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def open_state(args: argparse.Namespace) -> State:
    return State(state_dir(args.state))


def print_json(value: object) -> None:
    json.dump(value, sys.stdout, indent=2)
    sys.stdout.write("\n")


def tidy_help(p: argparse.ArgumentParser) -> None:
    """No "(default: None)" or "(default: False)" in ``--help``.

    The shared formatter appends every default unless the help text already mentions
    ``%(default)``; a zero-width ``%(default).0s`` says "mentioned" and prints nothing.
    """
    for action in p._actions:
        if action.help and action.default in (None, False) and "%(default)" not in action.help:
            action.help += "%(default).0s"
