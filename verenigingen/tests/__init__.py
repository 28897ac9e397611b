"""Test support that must be importable inside a site (a bench worker imports job functions by
dotted path, and ``bench run-tests --app verenigingen`` walks this package). The test suite itself
is in the repository's ``tests/`` folder."""
