"""Arguments the test bed's own tests give the suites they run in a subprocess."""

# the performance measurements on a small N: they must run, not take minutes
SMALL_PERF = ("--latency-burst=3", "--latency-burst-rounds=1", "--cri-bench=2")
