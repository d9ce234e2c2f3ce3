"""The read window's guarantees: closed range, look-back, never ahead of the run, never backwards."""

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from syncd.core.window import advance, format_cursor, parse_cursor, read_window

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LOOKBACK = dt.timedelta(minutes=10)


def test_first_run_reads_everything_up_to_now():
    window = read_window(None, NOW, LOOKBACK)
    assert window.start is None and window.end == NOW


def test_next_run_looks_back_over_the_previous_windows_tail():
    cursor = format_cursor(NOW - dt.timedelta(hours=1))
    window = read_window(cursor, NOW, LOOKBACK)
    assert window.start == NOW - dt.timedelta(hours=1) - LOOKBACK
    assert window.end == NOW


def test_cursor_after_a_confirmed_window_is_the_windows_end():
    window = read_window(None, NOW, LOOKBACK)
    assert parse_cursor(advance(None, window)) == NOW


def test_a_clock_behind_the_stored_cursor_never_moves_it_back():
    cursor = format_cursor(NOW)
    window = read_window(cursor, NOW - dt.timedelta(hours=3), LOOKBACK)
    assert parse_cursor(advance(cursor, window)) == NOW


@given(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(UTC)),
       st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(UTC)),
       st.integers(min_value=0, max_value=1440))
def test_cursor_never_decreases(previous, now, minutes):
    cursor = format_cursor(previous)
    window = read_window(cursor, now, dt.timedelta(minutes=minutes))
    assert parse_cursor(advance(cursor, window)) >= parse_cursor(cursor)
    assert window.start is not None and window.start <= window.end
