"""``signed-url``: make keys, sign URLs, verify them (native or nginx scheme).

Each subcommand lives in its own module ``middleware/cli/signed_url/cmd_<name>.py``; what
they share (the scheme options, reading keys and secrets, times) in ``options.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from edgeward.cli import command_group

SUBCOMMANDS = ("keygen", "sign", "verify")

DESCRIPTION = """\
Sign and verify URLs for SignedURLMiddleware (native scheme: HMAC-SHA256, key ids,
rotation) or for nginx's secure_link module (--scheme nginx: MD5 with a shared secret).

A key file holds lines '<kid> <secret>'; the first key signs, every key verifies.
"""

EPILOG = """\
examples:
  signed-url keygen --kid 2026-11 --out keys.txt   # new key (file 0600); move it to the top to sign
  signed-url sign --keys keys.txt --expires-in 3600 '/media/cat.jpg?w=640'
  signed-url sign --keys keys.txt --quote '/media/a b/été.png'
  signed-url verify --keys keys.txt '/media/cat.jpg?w=640&exp=1893456000&kid=k1&sig=...'
  signed-url sign --scheme nginx --secret-file nginx.secret --remote-addr 203.0.113.7 \\
      --expires-at 2147483647 /s/link
  signed-url verify --scheme nginx --secret-file nginx.secret --remote-addr 203.0.113.7 \\
      '/s/link?md5=...&expires=2147483647'

exit codes: 0 done / valid, 1 invalid (the reason is printed), 2 usage or key-file error.
"""


def main(argv: Sequence[str] | None = None) -> int:
    return command_group(
        "signed-url", DESCRIPTION, "middleware.cli.signed_url", SUBCOMMANDS, argv, epilog=EPILOG
    )


if __name__ == "__main__":
    sys.exit(main())
