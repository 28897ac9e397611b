#!/usr/bin/env python3
"""Field-reference validator for Frappe apps; see verenigingen.field_validator.

Usage: production_field_validator.py PATH... [--app PATH] [--format text|json|sarif] [--baseline FILE]
"""

import sys
from pathlib import Path

# Run from a checkout without installing: the package sits two folders up.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from verenigingen.field_validator.cli import main

if __name__ == "__main__":
	sys.exit(main())
