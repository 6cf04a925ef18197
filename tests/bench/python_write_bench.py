#!/usr/bin/env python3
"""Python write+publish cost for 100 robots x 30 links from NumPy arrays, all links changed,
and the cost of telemetry records (one at a time, in NumPy batches, worker rows).

Run: PYTHONPATH=build/python python3 tests/bench/python_write_bench.py
"""
import os
import time

import numpy as np

import fleetscope

ROBOTS, LINKS, FRAMES = 100, 30, 2000


def main() -> None:
    with fleetscope.Writer(f"bench.py.{os.getpid()}", max_robots=ROBOTS, max_links=LINKS) as w:
        model = w.add_model("m", [fleetscope.Box((0.1, 0.1, 0.1))] * LINKS)
        for r in range(ROBOTS):
            w.spawn_robot(f"r{r}", model)
        n = w.total_links
        a = np.zeros((n, 7)); a[:, 0] = np.arange(n); a[:, 6] = 1.0
        b = a.copy(); b[:, 1] = 0.01
        for label, frames in (("float64", (a, b)), ("float32", (a.astype(np.float32), b.astype(np.float32)))):
            times = []
            for i in range(FRAMES):
                poses = frames[i % 2]
                start = time.perf_counter()
                w.set_all_poses(poses)
                stats = w.publish(float(i))
                times.append(time.perf_counter() - start)
            assert stats["dirty_links"] == n
            times = np.array(times[100:]) * 1e6
            print(f"python set_all_poses+publish {ROBOTS}x{LINKS} {label}: "
                  f"median {np.median(times):.1f} us, p99 {np.percentile(times, 99):.1f} us per frame")


def telemetry() -> None:
    def per_call(fn, calls):
        times = []
        for _ in range(5):
            start = time.perf_counter()
            for i in range(calls):
                fn(i)
            times.append((time.perf_counter() - start) / calls)
        return float(np.median(times))

    with fleetscope.TelemetryWriter(f"bench.py.tel.{os.getpid()}") as t:
        one = per_call(lambda i: t.scalar("train/loss", i, 0.5), 20000)
        print(f"python scalar(): {one * 1e6:.2f} us per record")
        several = per_call(lambda i: t.scalars_at(i, {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}), 5000)
        print(f"python scalars_at() with 4 tags: {several * 1e6:.2f} us per call, {several / 4 * 1e6:.2f} us per record")
        for n in (100, 1000):
            steps, values = np.arange(n), np.random.default_rng(0).normal(size=n)
            batch = per_call(lambda i: t.scalars("load/exec_ms", steps, values), 2000)
            print(f"python scalars() batch of {n}: {batch * 1e6:.1f} us per batch, {batch / n * 1e9:.0f} ns per record")
        row = per_call(lambda i: t.worker(3, pid=os.getpid(), host="gpu0", steps=i, steps_per_s=1000.0,
                                          exec_s=0.004, ipc_s=0.001), 20000)
        print(f"python worker(): {row * 1e6:.2f} us per row update")


if __name__ == "__main__":
    main()
    telemetry()
