"""`python -m fundguard.installer …`: the `fundguard-installer` command."""

import sys

from .cli import main

sys.exit(main())
