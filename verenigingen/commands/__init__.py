"""Bench commands of the app: ``bench --site SITE verenigingen ...``.

Frappe's bench helper (``frappe.utils.bench_helper.get_app_commands``) imports ``<app>.commands``
for every installed app and adds each click command of its ``commands`` list to bench's own
``frappe`` group, which takes ``--site`` and hands the site(s) down in ``ctx.obj``. Each command
here is a thin shell: it runs in the site as Administrator and calls what the app's whitelisted
APIs call; ``--json`` prints the data those APIs return.
"""

import click

from .base import CommandError


class _Group(click.Group):
	"""A click group whose usage errors (an unknown command, a missing argument, a bad choice) are
	one line on stderr, like the commands' own errors, with click's exit status 2."""

	def invoke(self, ctx):
		try:
			return super().invoke(ctx)
		except click.UsageError as exc:
			raise CommandError(exc.format_message(), exc.exit_code) from exc


@click.group("verenigingen", cls=_Group)
def verenigingen():
	"""Verenigingen's performance layer: indexes, cache, jobs, monitoring, readiness, baselines, fieldcheck."""


def _register() -> None:
	from .baselines import baselines
	from .cache import cache
	from .fieldcheck import fieldcheck
	from .indexes import indexes
	from .jobs import jobs
	from .monitoring import monitoring, readiness

	for command in (indexes, cache, jobs, monitoring, readiness, baselines, fieldcheck):
		verenigingen.add_command(command)


_register()

commands = [verenigingen]
