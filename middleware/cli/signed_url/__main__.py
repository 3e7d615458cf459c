"""``python -m middleware.cli.signed_url``."""

import sys

from middleware.cli.signed_url import main

sys.exit(main())
