"""Showcase step: seed the demo database with the generator and print what it created."""

from verenigingen.performance.dataset import generate_dataset
from verenigingen.performance.schema import create_app_tables

from .env import ShowcaseEnv


def run(env: ShowcaseEnv) -> None:
	env.heading(f"Seeding {env.members:,} members (seed {env.seed}) into {env.db.database_name}")
	create_app_tables(env.db, drop_existing=True)
	summary = generate_dataset(env.db, members=env.members, seed=env.seed)
	env.results["dataset"] = summary.as_dict()
	env.table(["DocType", "rows"], [[k, f"{v:,}"] for k, v in summary.counts.items()])
	total = sum(summary.counts.values())
	env.line(f"{total:,} rows in {summary.seconds:.1f} s ({total / max(summary.seconds, 1e-9):,.0f} rows/s)")
