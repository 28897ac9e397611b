"""Fixtures of the field validator tests; the fixture app's files are data, not tests."""

import pytest

from verenigingen.field_validator import Schema, load_schema

from .paths import FIXTURE_APP, REPO_ROOT

collect_ignore_glob = ["fixture_app/*"]


@pytest.fixture(scope="session")
def fixture_schema() -> Schema:
	return load_schema([FIXTURE_APP])


@pytest.fixture(scope="session")
def repo_schema() -> Schema:
	return load_schema([REPO_ROOT])
