#!/usr/bin/env python3
"""A Python simulation loop publishing 100 robots x 10-30 links each step with NumPy only.

Run:  PYTHONPATH=build/python python3 sim_bridge/examples/python_fleet.py --seconds 5
Then: build/ipc/fleetscope-shm watch pyfleet
"""
import argparse
import time

import numpy as np

import fleetscope


def quaternion_z(angle: np.ndarray) -> np.ndarray:
    """Unit quaternions (qx, qy, qz, qw) for rotations about z."""
    q = np.zeros(angle.shape + (4,))
    q[..., 2] = np.sin(angle / 2)
    q[..., 3] = np.cos(angle / 2)
    return q


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", default="pyfleet")
    parser.add_argument("--robots", type=int, default=100)
    parser.add_argument("--rate", type=float, default=60.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    link_counts = [10, 17, 23, 30]
    with fleetscope.Writer(args.name, max_robots=args.robots, max_links=max(link_counts)) as writer:
        models = []
        for n in link_counts:
            links = [fleetscope.Box((0.6, 0.4, 0.2), offset=(0, 0, 0.1), color=(70, 70, 80))]
            links += [fleetscope.Capsule(0.04, 0.1, offset=(0, 0, 0.08), color=(60, 140, 230))
                      for _ in range(n - 1)]
            models.append(writer.add_model(f"snake{n}", links))
        counts = []
        for r in range(args.robots):
            writer.spawn_robot(f"robot{r}", models[r % len(models)])
            counts.append(link_counts[r % len(models)])

        # Per-link constant data, computed once: robot base position and link index.
        robot_of_link = np.repeat(np.arange(args.robots), counts)
        link_index = np.concatenate([np.arange(n) for n in counts])
        cols = int(np.ceil(np.sqrt(args.robots)))
        base_x = (robot_of_link % cols) * 2.5
        base_y = (robot_of_link // cols) * 2.5
        poses = np.zeros((writer.total_links, 7))

        dt = 1.0 / args.rate
        t, frames, write_s = 0.0, 0, 0.0
        deadline = time.monotonic()
        while t < args.seconds:
            t += dt
            angle = 0.3 * np.sin(1.5 * t + 0.2 * link_index + 0.7 * robot_of_link)
            poses[:, 0] = base_x + 0.12 * link_index * np.cos(angle)
            poses[:, 1] = base_y + 0.12 * link_index * np.sin(angle)
            poses[:, 2] = 0.2 + 0.02 * link_index
            poses[:, 3:7] = quaternion_z(angle)
            start = time.perf_counter()
            writer.set_all_poses(poses)
            writer.publish(t)
            write_s += time.perf_counter() - start
            frames += 1
            deadline += dt
            time.sleep(max(0.0, deadline - time.monotonic()))
        print(f"published {frames} frames of {writer.total_links} links; "
              f"mean write+publish {write_s / frames * 1e6:.0f} us per frame")


if __name__ == "__main__":
    main()
