#!/usr/bin/env python3
"""Python write+publish cost for 100 robots x 30 links from NumPy arrays, all links changed.

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


if __name__ == "__main__":
    main()
