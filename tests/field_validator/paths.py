"""Where the field validator tests find the fixture app and this repository."""

from pathlib import Path

FIXTURE_APP = Path(__file__).resolve().parent / "fixture_app"
REPO_ROOT = Path(__file__).resolve().parents[2]
