#!/usr/bin/env python3
"""Samples the CPU time and memory of groups of processes until a stop file
appears, then prints one line per group: CPU seconds used during the window
and the peaks of the group's summed RSS and of its summed private (anonymous)
memory, in MiB, and the median of the summed private memory over all samples
of the window ("typical": a burst such as 100 clients alive for a second at
launch moves the peak, not the typical figure). RSS
counts the pages of shared libraries once per process; the private figure
is what each further process really adds.

Groups (a process counts once, in the first that matches):
  agent        the process AGENT_PID (its VmHWM is reported too)
  supervisors  mlcube-agent-supervisor processes, or other processes running
               the agent's binary (`mlcube-agent supervise`)
  run-clients  the `docker run` (or `docker create`) clients those start
  docker       dockerd, containerd and containerd-shim processes
  followers    processes named mlcube-remote or docker (the CLIs)

CPU of a process that exits between two samples is counted up to its last
sample (at most one interval lost per process).

Usage: proc_sampler.py AGENT_PID AGENT_EXE STOP_FILE [INTERVAL_S]
"""
import os
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def group_of(pid, agent_pid, supervisor_exes):
    if pid == agent_pid:
        return "agent"
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        exe = ""
    if exe in supervisor_exes:
        return "supervisors"
    try:
        with open(f"/proc/{pid}/comm") as f:
            comm = f.read().strip()
    except OSError:
        return None
    if comm in ("dockerd", "containerd") or comm.startswith("containerd-shim"):
        return "docker"
    if comm == "docker" and parent_exe(pid) in supervisor_exes:
        return "run-clients"
    if comm in ("mlcube-remote", "docker"):
        return "followers"
    return None


def parent_exe(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        return os.readlink(f"/proc/{ppid}/exe")
    except (OSError, ValueError, IndexError):
        return ""


def cpu_rss_and_private(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is state (field 3); utime 14, stime 15, rss 24.
    cpu = (int(fields[11]) + int(fields[12])) / TICKS
    rss = int(fields[21]) * PAGE
    private = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                private = int(line.split()[1]) * 1024
                break
    return cpu, rss, private


def main():
    agent_pid, agent_exe, stop = int(sys.argv[1]), os.path.realpath(sys.argv[2]), sys.argv[3]
    supervisor_exes = {agent_exe,
                       os.path.join(os.path.dirname(agent_exe), "mlcube-agent-supervisor")}
    interval = float(sys.argv[4]) if len(sys.argv) > 4 else 0.2
    first = {}  # pid -> cpu at first sight (long-lived processes: only the window counts)
    last = {}   # pid -> (group, cpu)
    peak = {}
    peak_private = {}
    private_samples = {}  # group -> its summed private memory in each sample
    samples = 0
    started = time.time()
    seen_before = set(p for p in os.listdir("/proc") if p.isdigit())
    while not os.path.exists(stop):
        totals = {}
        privates = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            pid = int(name)
            try:
                group = last[pid][0] if pid in last else group_of(pid, agent_pid, supervisor_exes)
                if group is None:
                    continue
                cpu, rss, private = cpu_rss_and_private(pid)
            except (OSError, IndexError, ValueError):
                continue
            # A process that existed before the window counts from its first
            # sample; one born inside it counts from zero.
            first.setdefault(pid, cpu if name in seen_before else 0.0)
            last[pid] = (group, cpu)
            totals[group] = totals.get(group, 0) + rss
            privates[group] = privates.get(group, 0) + private
        for group, rss in totals.items():
            peak[group] = max(peak.get(group, 0), rss)
            peak_private[group] = max(peak_private.get(group, 0), privates[group])
        samples += 1
        for group in set(private_samples) | set(privates):
            private_samples.setdefault(group, [0] * (samples - 1)).append(privates.get(group, 0))
        time.sleep(interval)
    cpu = {}
    for pid, (group, value) in last.items():
        cpu[group] = cpu.get(group, 0.0) + value - first[pid]
    hwm = ""
    try:
        with open(f"/proc/{agent_pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    hwm = f" (VmHWM {int(line.split()[1]) / 1024:.1f} MiB)"
    except OSError:
        pass
    print(f"window {time.time() - started:.1f} s")
    for group in ("agent", "supervisors", "run-clients", "docker", "followers"):
        if group not in cpu and group not in peak:
            continue
        extra = hwm if group == "agent" else ""
        values = sorted(private_samples.get(group, [0]))
        typical = values[len(values) // 2]
        print(f"{group:12s} cpu {cpu.get(group, 0.0):7.2f} s   peak rss "
              f"{peak.get(group, 0) / 1048576:8.1f} MiB   private "
              f"{peak_private.get(group, 0) / 1048576:7.1f} MiB (typical "
              f"{typical / 1048576:6.1f}){extra}")


if __name__ == "__main__":
    main()
