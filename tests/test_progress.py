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


def test_bar_is_silent_when_not_a_terminal():
	out = io.StringIO()  # isatty() is False
	bar = ProgressBar(10, "x", stream=out)
	bar.update(10)
	bar.close()
	assert out.getvalue() == ""
	assert bar.done == 10


def test_negative_total_is_refused():
	with pytest.raises(ValueError, match="total must be >= 0"):
		ProgressBar(-1)
