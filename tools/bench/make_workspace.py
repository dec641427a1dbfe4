#!/usr/bin/env python3
"""Builds the benchmark cube of DESIGN.md: 8 x 64 MiB + 20,000 files of
0.5-8 KiB (632 MiB in all), in ROOT/workspace, plus an mlcube.yaml."""
import os
import random
import sys

root = sys.argv[1]
big = int(os.environ.get("BENCH_BIG_FILES", "8"))
small = int(os.environ.get("BENCH_SMALL_FILES", "20000"))
rng = random.Random(42)
ws = os.path.join(root, "workspace")
os.makedirs(os.path.join(ws, "data"), exist_ok=True)
with open(os.path.join(root, "mlcube.yaml"), "w") as f:
    f.write("name: bench\nplatform: {accelerator_count: 0}\ndocker: {image: bench:latest}\n"
            "tasks:\n  run:\n    parameters:\n      inputs: {data: data/}\n"
            "      outputs: {out: out/}\n")
for i in range(big):
    with open(os.path.join(ws, "data", "shard-%d.bin" % i), "wb") as f:
        for _ in range(64):
            f.write(os.urandom(1 << 20))
for i in range(small):
    d = os.path.join(ws, "data", "small", "%03d" % (i // 200))
    if i % 200 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.txt" % i), "wb") as f:
        f.write(os.urandom(rng.randint(512, 8192)))
