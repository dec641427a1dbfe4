"""MNIST tasks for the mlcube-remote example: `download` and `train`.

Called as MLCube runners call a cube: TASK --param=/mlcube_ioN/... . Training
is a softmax regression in numpy: small, fast on a CPU, and a real model
(about 92% test accuracy after a few epochs).
"""
import argparse
import json
import os
import sys
import time
import urllib.request

import numpy as np
import yaml


def log(log_dir, name, message):
    print(message, flush=True)
    with open(os.path.join(log_dir, name), "a") as out:
        out.write(message + "\n")


def download(args):
    os.makedirs(args.data_dir, exist_ok=True)
    os.makedirs(args.log_dir, exist_ok=True)
    with open(args.data_config) as f:
        config = yaml.safe_load(f)
    target = os.path.join(args.data_dir, "mnist.npz")
    if os.path.exists(target):
        log(args.log_dir, "download.log", f"{target} already there")
        return 0
    log(args.log_dir, "download.log", f"downloading {config['url']}")
    partial = target + ".partial"
    urllib.request.urlretrieve(config["url"], partial)
    os.replace(partial, target)
    log(args.log_dir, "download.log", f"saved {os.path.getsize(target)} bytes to {target}")
    return 0


def train(args):
    os.makedirs(args.log_dir, exist_ok=True)
    os.makedirs(args.model_dir, exist_ok=True)
    with open(args.parameters_file) as f:
        params = yaml.safe_load(f)
    with np.load(os.path.join(args.data_dir, "mnist.npz")) as data:
        x_train = data["x_train"].reshape(-1, 784).astype(np.float32) / 255.0
        y_train = data["y_train"]
        x_test = data["x_test"].reshape(-1, 784).astype(np.float32) / 255.0
        y_test = data["y_test"]
    rng = np.random.default_rng(0)
    weights = np.zeros((784, 10), dtype=np.float32)
    bias = np.zeros(10, dtype=np.float32)
    batch, rate = int(params["batch_size"]), float(params["learning_rate"])
    history = []
    for epoch in range(1, int(params["epochs"]) + 1):
        start = time.time()
        order = rng.permutation(len(x_train))
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            logits = x_train[idx] @ weights + bias
            logits -= logits.max(axis=1, keepdims=True)
            probs = np.exp(logits)
            probs /= probs.sum(axis=1, keepdims=True)
            probs[np.arange(len(idx)), y_train[idx]] -= 1.0
            weights -= rate * x_train[idx].T @ probs / len(idx)
            bias -= rate * probs.mean(axis=0)
        accuracy = float(((x_test @ weights + bias).argmax(axis=1) == y_test).mean())
        history.append({"epoch": epoch, "test_accuracy": accuracy})
        log(args.log_dir, "train.log",
            f"epoch {epoch}: test accuracy {accuracy:.4f} ({time.time() - start:.1f} s)")
    np.savez(os.path.join(args.model_dir, "softmax.npz"), weights=weights, bias=bias)
    with open(os.path.join(args.log_dir, "history.json"), "w") as out:
        json.dump(history, out, indent=2)
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("task", choices=["download", "train"])
    parser.add_argument("--data_config")
    parser.add_argument("--data_dir")
    parser.add_argument("--log_dir")
    parser.add_argument("--parameters_file")
    parser.add_argument("--model_dir")
    args = parser.parse_args()
    return download(args) if args.task == "download" else train(args)


if __name__ == "__main__":
    sys.exit(main())
