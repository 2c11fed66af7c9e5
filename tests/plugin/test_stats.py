"""Latency statistics."""
from __future__ import annotations

import pytest
from crigate import stats


def test_percentile_interpolates_between_ranks():
    assert stats.percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    assert stats.percentile([1, 2, 3, 4], 100) == 4
    assert stats.percentile([5], 99) == 5


def test_bootstrap_interval_is_deterministic_and_brackets_the_median():
    samples = [0.8, 0.9, 1.0, 1.1, 1.2, 1.0, 0.95, 1.05, 0.9, 1.1]
    first = stats.bootstrap_interval(samples, lambda s: sorted(s)[len(s) // 2])
    assert first == stats.bootstrap_interval(samples, lambda s: sorted(s)[len(s) // 2])
    assert first[0] <= 1.0 <= first[1]


def test_median_ratio_significance():
    fast = [1.0 + 0.01 * i for i in range(20)]
    slow = [1.3 + 0.01 * i for i in range(20)]
    assert stats.median_ratio(fast, slow).significant
    assert stats.median_ratio(fast, slow).ratio == pytest.approx(1.095 / 1.395, rel=1e-3)
    assert not stats.median_ratio(fast, list(reversed(fast))).significant


def test_summary_fields():
    s = stats.summarize([float(i) for i in range(1, 21)])
    assert (s.n, s.max) == (20, 20.0) and s.p50 == pytest.approx(10.5)
    assert s.p50_ci[0] <= s.p50 <= s.p50_ci[1]
