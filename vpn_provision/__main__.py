import sys

from vpn_provision.cli import main

sys.exit(main())
