#!/usr/bin/env python3
"""Builds the WAN benchmark's realistic ML project in ROOT (an MLCube cube):
300 source files (Python-like text, 1-20 KiB), 20 CSV files of 2.5 MiB,
two 32 MiB binary data shards and a 64 MiB checkpoint (random bytes: weights
and packed shards barely compress), about 180 MiB in all."""
import os
import random
import sys

root = sys.argv[1]
rng = random.Random(14)
ws = os.path.join(root, "workspace")
for d in ("src/model", "src/data", "src/train", "data/csv", "data/shards", "checkpoints"):
    os.makedirs(os.path.join(ws, d), exist_ok=True)
with open(os.path.join(root, "mlcube.yaml"), "w") as f:
    f.write("name: wanbench\nplatform: {accelerator_count: 0}\ndocker: {image: wanbench:latest}\n"
            "tasks:\n  train:\n    parameters:\n      inputs: {data: data/}\n"
            "      outputs: {checkpoints: checkpoints/}\n")

WORDS = ("tensor batch loss optimizer layer weight bias grad step epoch learning_rate "
         "dropout hidden embed attention head norm relu softmax logits labels inputs "
         "outputs model config dataset loader shuffle seed device cuda float32").split()


def source_file(size):
    lines = []
    n = 0
    while n < size:
        indent = "    " * rng.randint(0, 3)
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 8)))
        line = f"{indent}{rng.choice(['def', 'x =', 'return', 'if', 'for', '#'])} {words}\n"
        lines.append(line)
        n += len(line)
    return "".join(lines)


for i in range(300):
    sub = ("model", "data", "train")[i % 3]
    with open(os.path.join(ws, "src", sub, f"module_{i:03d}.py"), "w") as f:
        f.write(source_file(rng.randint(1024, 20480)))

for i in range(20):
    with open(os.path.join(ws, "data", "csv", f"part-{i:02d}.csv"), "w") as f:
        f.write("id,timestamp,feature_a,feature_b,feature_c,label\n")
        size, row = 0, 0
        while size < 2621440:
            line = (f"{row},{1700000000 + row * 17},{rng.random():.6f},"
                    f"{rng.gauss(0, 1):.5f},{rng.randint(0, 999)},{rng.choice('ABCD')}\n")
            f.write(line)
            size += len(line)
            row += 1

for i in range(2):
    with open(os.path.join(ws, "data", "shards", f"shard-{i}.bin"), "wb") as f:
        for _ in range(32):
            f.write(os.urandom(1 << 20))
with open(os.path.join(ws, "checkpoints", "model.ckpt"), "wb") as f:
    for _ in range(64):
        f.write(os.urandom(1 << 20))
