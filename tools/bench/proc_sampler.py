#!/usr/bin/env python3
"""Samples the CPU time and memory of groups of processes until a stop file
appears, then prints one line per group: CPU seconds used during the window
and the peak of the group's summed RSS (MiB).

Groups (a process counts once, in the first that matches):
  agent        the process AGENT_PID (its VmHWM is reported too)
  supervisors  other processes running the agent's binary (`supervise`)
  run-clients  the `docker run` clients those start (they relay the
               container's output to the supervisor)
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


def group_of(pid, agent_pid, agent_exe):
    if pid == agent_pid:
        return "agent"
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        exe = ""
    if exe == agent_exe:
        return "supervisors"
    try:
        with open(f"/proc/{pid}/comm") as f:
            comm = f.read().strip()
    except OSError:
        return None
    if comm in ("dockerd", "containerd") or comm.startswith("containerd-shim"):
        return "docker"
    if comm == "docker" and parent_exe(pid) == agent_exe:
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


def cpu_and_rss(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is state (field 3); utime 14, stime 15, rss 24.
    cpu = (int(fields[11]) + int(fields[12])) / TICKS
    rss = int(fields[21]) * PAGE
    return cpu, rss


def main():
    agent_pid, agent_exe, stop = int(sys.argv[1]), os.path.realpath(sys.argv[2]), sys.argv[3]
    interval = float(sys.argv[4]) if len(sys.argv) > 4 else 0.2
    first = {}  # pid -> cpu at first sight (long-lived processes: only the window counts)
    last = {}   # pid -> (group, cpu)
    peak = {}
    started = time.time()
    seen_before = set(p for p in os.listdir("/proc") if p.isdigit())
    while not os.path.exists(stop):
        totals = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            pid = int(name)
            try:
                group = last[pid][0] if pid in last else group_of(pid, agent_pid, agent_exe)
                if group is None:
                    continue
                cpu, rss = cpu_and_rss(pid)
            except (OSError, IndexError, ValueError):
                continue
            # A process that existed before the window counts from its first
            # sample; one born inside it counts from zero.
            first.setdefault(pid, cpu if name in seen_before else 0.0)
            last[pid] = (group, cpu)
            totals[group] = totals.get(group, 0) + rss
        for group, rss in totals.items():
            peak[group] = max(peak.get(group, 0), rss)
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
        print(f"{group:12s} cpu {cpu.get(group, 0.0):7.2f} s   peak rss "
              f"{peak.get(group, 0) / 1048576:8.1f} MiB{extra}")


if __name__ == "__main__":
    main()
