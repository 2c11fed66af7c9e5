"""What a runtime costs its node: CPU seconds and memory of the runtime's
daemons and shims (the profile's cost_processes) and of the kubelet, read
from the node's /proc in one command per sample.

/proc/PID/stat fields 14 and 15 are utime and stime in clock ticks
(proc(5)); /proc/PID/status VmHWM is a process's peak resident memory, and
/proc/PID/smaps_rollup Pss its proportional share now (shared pages split
among the processes that map them, so shims' sums do not count their common
binary once per shim), in kB. A process that appears between two samples counts from its start;
one that exits between them is lost, so samples are taken while the pods
(and their shims) still run.
"""
from __future__ import annotations

from dataclasses import dataclass, field

KUBELET = ("kubelet",)
# One line per process whose comm is listed: comm pid utime stime VmRSS VmHWM.
SAMPLE_SCRIPT = (
    'tck=$(getconf CLK_TCK); echo "tck $tck"; '
    "for d in /proc/[0-9]*; do read -r c < $d/comm 2>/dev/null || continue; "
    'case " $NAMES " in *" $c "*) '
    's=$(cut -d" " -f14,15 $d/stat 2>/dev/null) || continue; '
    "m=$(awk '/^VmRSS:|^VmHWM:|^Pss:/ {printf \"%s %s \", $1, $2}' $d/status $d/smaps_rollup 2>/dev/null); "
    'echo "$c ${d#/proc/} $s $m";; esac; done')


@dataclass(frozen=True)
class Process:
    comm: str
    pid: int
    cpu_s: float
    rss_kb: int
    hwm_kb: int
    pss_kb: int = 0


@dataclass
class Sample:
    processes: dict[int, Process] = field(default_factory=dict)

    def cpu_s(self, names: tuple[str, ...]) -> float:
        return sum(p.cpu_s for p in self.processes.values() if p.comm in names)

    def rss_mb(self, names: tuple[str, ...]) -> float:
        """Memory in use now: PSS where the kernel gives it, else RSS."""
        return sum(p.pss_kb or p.rss_kb for p in self.processes.values() if p.comm in names) / 1024

    def peak_mb(self, names: tuple[str, ...]) -> float:
        """Sum of each process's own peak: an upper bound of the group's peak."""
        return sum(p.hwm_kb for p in self.processes.values() if p.comm in names) / 1024


def parse(text: str) -> Sample:
    """SAMPLE_SCRIPT's output -> Sample."""
    lines = text.strip().splitlines()
    tck = 100
    sample = Sample()
    for line in lines:
        words = line.split()
        if words[:1] == ["tck"] and len(words) == 2 and words[1].isdigit():
            tck = int(words[1])
            continue
        if len(words) < 4 or not words[1].isdigit():
            continue
        memory = dict(zip(words[4::2], words[5::2], strict=False))
        sample.processes[int(words[1])] = Process(
            words[0], int(words[1]), (int(words[2]) + int(words[3])) / tck,
            int(memory.get("VmRSS:", 0)), int(memory.get("VmHWM:", 0)), int(memory.get("Pss:", 0)))
    return sample


def take(host, names: tuple[str, ...]) -> Sample:
    out = host.run("NAMES=%s sh -c %s", " ".join(names), SAMPLE_SCRIPT)
    return parse(out.stdout)


def cpu_between(before: Sample, after: Sample, names: tuple[str, ...]) -> float:
    """CPU seconds the named processes used from before to after."""
    used = 0.0
    for pid, proc in after.processes.items():
        if proc.comm not in names:
            continue
        earlier = before.processes.get(pid)
        used += proc.cpu_s - (earlier.cpu_s if earlier and earlier.comm == proc.comm else 0.0)
    return round(used, 3)
