"""Mutation test: misspell real field references one at a time; the validator must catch them.

Candidate sites are found independently of the checkers: every attribute name and string
literal in Python, and every identifier and string in JavaScript, that equals a field of a
known DocType. A site counts as statically known when the validator resolved its DocType
there (it recorded a reference). Each known site is misspelt in a copy of its app, the
schema is reloaded, and the mutated file checked; the mutation is caught when a finding
names the misspelling on that line.
"""

import ast
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from verenigingen.field_validator import Schema, check_files, check_source, collect_files, load_schema
from verenigingen.field_validator.doctypes import DOCUMENT_ATTRIBUTES, STANDARD_FIELDS
from verenigingen.field_validator.js_tokens import ID, STR, tokenize

from .paths import FIXTURE_APP, REPO_ROOT

REQUIRED_CATCH_RATE = 0.95


@dataclass(frozen=True)
class Site:
	path: str  # relative to the app copy's root
	line: int
	column: int  # 1-based, at the name itself
	name: str


def field_names(schema: Schema) -> set[str]:
	names = set(STANDARD_FIELDS)
	for info in schema.doctypes.values():
		names |= set(info.fields)
	return names


def candidate_sites(path: Path, rel: str, names: set[str]) -> Iterator[Site]:
	source = path.read_text(encoding="utf-8")
	lines = source.splitlines()
	if path.suffix == ".py":
		for node in ast.walk(ast.parse(source)):
			if isinstance(node, ast.Attribute) and node.attr in names and node.end_lineno == node.lineno:
				yield Site(rel, node.lineno, node.end_col_offset - len(node.attr) + 1, node.attr)
			elif (
				isinstance(node, ast.Constant)
				and isinstance(node.value, str)
				and node.lineno == node.end_lineno
			):
				text = lines[node.lineno - 1]
				for name in names:
					if (
						name
						in node.value.replace("`", " ")
						.replace(",", " ")
						.replace("(", " ")
						.replace(")", " ")
						.split()
					):
						start = text.find(name, node.col_offset)
						if start >= 0:
							yield Site(rel, node.lineno, start + 1, name)
	else:
		for token in tokenize(source):
			if token.kind == ID and token.value in names:
				yield Site(rel, token.line, token.column, token.value)
			elif token.kind == STR and token.value in names:
				yield Site(rel, token.line, token.column + 1, token.value)


def misspell(name: str, taken: set[str]) -> str:
	"""A deterministic misspelling of ``name`` that is no known field or attribute."""
	options = []
	for i in range(len(name) - 2, 0, -1):
		if name[i] != name[i + 1]:
			options.append(name[:i] + name[i + 1] + name[i] + name[i + 2 :])  # swap
	options += [name[:i] + name[i + 1 :] for i in range(len(name) - 1, 0, -1)]  # drop
	options += [name + "x", name + "_x"]
	return next(o for o in options if o not in taken and o.isidentifier())


def app_sites(app_root: Path, scan: list[Path], excludes: list[str]) -> tuple[list[Site], int, Schema]:
	"""Known sites (validator resolved the DocType) and the number of candidate sites."""
	schema = load_schema([app_root])
	names = field_names(schema)
	files = collect_files(scan, excludes, app_root)
	result = check_files(schema, files, app_root)
	resolved = {(r.path, r.line, r.column, r.name) for r in result.references if r.ok}
	candidates = []
	for path in files:
		rel = path.resolve().relative_to(app_root).as_posix()
		candidates.extend(candidate_sites(path, rel, names))
	known = sorted({s for s in candidates if (s.path, s.line, s.column, s.name) in resolved}, key=str)
	return known, len(set(candidates)), schema


def run_mutations(app_root: Path, sites: list[Site], tmp: Path, schema: Schema) -> tuple[int, list[str]]:
	copy = tmp / app_root.name
	ignore = shutil.ignore_patterns(".git", "__pycache__", "node_modules", "*.pyc")
	shutil.copytree(app_root, copy, ignore=ignore)
	taken = field_names(schema) | DOCUMENT_ATTRIBUTES
	for info in schema.doctypes.values():
		if info.controller is not None:
			taken |= info.controller.members | info.controller.stores | info.controller.loads
	caught, missed = 0, []
	for site in sites:
		target = copy / site.path
		original = target.read_text(encoding="utf-8")
		lines = original.splitlines(keepends=True)
		line = lines[site.line - 1]
		start = site.column - 1
		assert line[start : start + len(site.name)] == site.name, site
		mutant = misspell(site.name, taken)
		lines[site.line - 1] = line[:start] + mutant + line[start + len(site.name) :]
		mutated = "".join(lines)
		target.write_text(mutated, encoding="utf-8")
		try:
			result = check_source(load_schema([copy]), target, mutated, site.path)
		finally:
			target.write_text(original, encoding="utf-8")
		if any(f.line == site.line and f.name == mutant for f in result.findings):
			caught += 1
		else:
			missed.append(f"{site.path}:{site.line}:{site.column} {site.name} -> {mutant}")
	return caught, missed


@pytest.mark.slow
def test_misspelt_fields_are_caught(tmp_path):
	repo_sites, repo_candidates, repo_schema = app_sites(
		REPO_ROOT, [REPO_ROOT / "verenigingen"], ["verenigingen/field_validator"]
	)
	fixture_sites, fixture_candidates, fixture_schema = app_sites(FIXTURE_APP, [FIXTURE_APP], [])
	assert len(repo_sites) >= 5, "this repository should offer real reference sites"
	repo_caught, repo_missed = run_mutations(REPO_ROOT, repo_sites, tmp_path / "repo", repo_schema)
	fix_caught, fix_missed = run_mutations(FIXTURE_APP, fixture_sites, tmp_path / "fixture", fixture_schema)
	total = len(repo_sites) + len(fixture_sites)
	rate = (repo_caught + fix_caught) / total
	print(
		f"\nmutation: repository {repo_caught}/{len(repo_sites)} caught "
		f"({len(repo_sites)} of {repo_candidates} candidate sites statically known); "
		f"fixture app {fix_caught}/{len(fixture_sites)} "
		f"({len(fixture_sites)} of {fixture_candidates} known); overall {rate:.1%}"
	)
	for line in repo_missed + fix_missed:
		print("missed:", line)
	assert repo_caught / len(repo_sites) >= REQUIRED_CATCH_RATE, repo_missed
	assert rate >= REQUIRED_CATCH_RATE, repo_missed + fix_missed
