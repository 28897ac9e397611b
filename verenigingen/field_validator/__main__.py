"""``python -m verenigingen.field_validator PATH...``: the field validator's command line."""

import sys

from .cli import main

sys.exit(main())
