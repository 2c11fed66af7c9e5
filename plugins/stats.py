"""Latency statistics: percentiles and bootstrap confidence intervals."""
from __future__ import annotations

import random
import statistics
from dataclasses import asdict, dataclass

BOOTSTRAP_RESAMPLES = 2000
CONFIDENCE = 0.95
SEED = 20201202   # fixed: the same samples always give the same interval


def percentile(samples: list[float], q: float) -> float:
    """q-th percentile (0-100), linear interpolation between closest ranks."""
    if not samples:
        raise ValueError("percentile of no samples")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def bootstrap_interval(samples: list[float], statistic, resamples: int = BOOTSTRAP_RESAMPLES,
                       confidence: float = CONFIDENCE, seed: int = SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of statistic(samples)."""
    rng = random.Random(seed)
    n = len(samples)
    values = sorted(statistic([samples[rng.randrange(n)] for _ in range(n)])
                    for _ in range(resamples))
    tail = (1 - confidence) / 2
    return percentile(values, 100 * tail), percentile(values, 100 * (1 - tail))


@dataclass
class LatencySummary:
    n: int
    p50: float
    p90: float
    p99: float
    max: float
    mean: float
    p50_ci: tuple[float, float]
    p99_ci: tuple[float, float]

    def as_dict(self) -> dict:
        return asdict(self)


def summarize(samples: list[float]) -> LatencySummary:
    return LatencySummary(
        n=len(samples), p50=percentile(samples, 50), p90=percentile(samples, 90),
        p99=percentile(samples, 99), max=max(samples), mean=statistics.fmean(samples),
        p50_ci=bootstrap_interval(samples, statistics.median),
        p99_ci=bootstrap_interval(samples, lambda s: percentile(s, 99)))


def percentiles(values: list[float], digits: int = 4) -> dict:
    """{n, p50, p90, p99} of values ({n: 0} when there are none)."""
    if not values:
        return {"n": 0}
    return {"n": len(values), **{f"p{q}": round(percentile(values, q), digits) for q in (50, 90, 99)}}


@dataclass
class MedianRatio:
    """median(a) / median(b) with a bootstrap interval; significant when the
    interval excludes 1."""
    ratio: float
    ci: tuple[float, float]

    @property
    def significant(self) -> bool:
        return not (self.ci[0] <= 1.0 <= self.ci[1])


def median_ratio(a: list[float], b: list[float], resamples: int = BOOTSTRAP_RESAMPLES,
                 seed: int = SEED) -> MedianRatio:
    """Needs positive samples (a ratio of times, costs): raises ValueError otherwise."""
    if min(a) < 0 or min(b) <= 0:
        raise ValueError("median ratio of samples that are not all positive")
    rng = random.Random(seed)
    ratios = sorted(
        statistics.median([a[rng.randrange(len(a))] for _ in a])
        / statistics.median([b[rng.randrange(len(b))] for _ in b])
        for _ in range(resamples))
    tail = (1 - CONFIDENCE) / 2
    return MedianRatio(statistics.median(a) / statistics.median(b),
                       (percentile(ratios, 100 * tail), percentile(ratios, 100 * (1 - tail))))
