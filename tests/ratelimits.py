"""Rate-limit tests on the wall clock.

The limiter's windows are aligned on the clock (a "per minute" window starts at each whole
minute), and its sliding-window counter lets one request more through when a burst straddles
an edge: the previous window's hits then weigh a little less than whole and the weighted count
is rounded down (limits' documented approximation). A test that counts refusals exactly
starts its burst where it fits in one window.
"""

from __future__ import annotations

import time

MINUTE = 60


def within_one_window(needed: float, *, period: int = MINUTE) -> None:
    """Return when the next ``needed`` seconds lie in one window of ``period`` seconds, waiting
    for the next window to begin if they would not."""
    assert needed < period
    left = period - time.time() % period
    if left < needed:
        time.sleep(left + 0.05)
