import io

import pytest

from verenigingen.performance.progress import ProgressBar


class FakeClock:
	def __init__(self):
		self.now = 0.0

	def __call__(self):
		return self.now


def test_bar_draws_on_a_terminal_and_reports_rate_and_eta():
	out = io.StringIO()
	clock = FakeClock()
	bar = ProgressBar(200, "rows", stream=out, enabled=True, width=10, clock=clock)
	clock.now = 1.0
	bar.update(50)
	assert "rows [##--------] 50/200  25.0%" in out.getvalue()
	assert "eta   3.0s" in out.getvalue()
	clock.now = 4.0
	bar.update(150)
	bar.close()
	assert out.getvalue().endswith("100.0%    4.0s eta   0.0s\n")


def test_piped_output_gets_a_line_every_interval_and_ends_at_100_percent():
	out = io.StringIO()  # isatty() is False: a pipe or a log
	clock = FakeClock()
	bar = ProgressBar(1000, "rows", stream=out, interval=5, width=10, clock=clock)  # 1000: an estimate
	for second in range(1, 13):
		clock.now = float(second)
		bar.update(70)
	assert "\r" not in out.getvalue()
	lines = out.getvalue().splitlines()
	assert [line.split("] ")[1].split()[0] for line in lines] == ["350/1,000", "700/1,000"]  # at 5 s and 10 s
	bar.finish()  # 840 rows was all there was to do
	last = out.getvalue().splitlines()[-1]
	assert last.startswith("rows [##########] 840/840 100.0%")
	bar.close()  # closing twice writes nothing more
	assert len(out.getvalue().splitlines()) == 3


def test_disabled_bar_writes_nothing():
	out = io.StringIO()
	bar = ProgressBar(10, "x", stream=out, enabled=False)
	bar.update(10)
	bar.finish()
	assert out.getvalue() == ""
	assert bar.done == 10


def test_seeding_with_piped_stderr_reports_progress_up_to_100_percent(scratch_databases, capsys):
	from verenigingen.performance.dataset import expected_rows, generate_dataset

	db = scratch_databases.create("progress")
	try:
		summary = generate_dataset(
			db, members=40, seed=3
		)  # progress=None: stderr is captured, not a terminal
	finally:
		db.close()
	err = capsys.readouterr().err
	total = sum(summary.counts.values())
	assert total < expected_rows(40)  # the bar started from an estimate ...
	assert err.splitlines()[-1].startswith(f"seeding 40 members [{'#' * 30}] {total:,}/{total:,} 100.0%")


def test_negative_total_is_refused():
	with pytest.raises(ValueError, match="total must be >= 0"):
		ProgressBar(-1)
