#!/usr/bin/env python3
"""URDF forward kinematics from NumPy: 100 robots of a 30-joint chain, joint positions (100, 30)
float64 in, link poses staged into a segment by one C call (goal: <= 100 us per call). Also the
call with publish, and forward_kinematics into a NumPy array. The C++ path: build/tests/urdf_bench.

Run: PYTHONPATH=build/python python3 tests/bench/python_urdf_bench.py
"""
import os
import tempfile
import time

import numpy as np

from fleetscope.urdf import UrdfModel

ROBOTS, JOINTS, CALLS = 100, 30, 3000


def chain_urdf(joints: int) -> str:
    """The chain urdf_bench.cpp writes: revolute joints about z, y, x in turn, a cylinder per link."""
    axes = ("0 0 1", "0 1 0", "1 0 0")
    link = ('  <link name="link{}"><visual><origin xyz="0 0 0.05"/><geometry><cylinder radius="0.03" '
            'length="0.1"/></geometry></visual></link>\n')
    xml = f'<?xml version="1.0"?>\n<robot name="chain{joints}">\n' + link.format(0)
    for j in range(1, joints + 1):
        xml += (f'  <joint name="joint{j}" type="revolute"><parent link="link{j - 1}"/><child link="link{j}"/>'
                f'<origin xyz="0 0 0.1" rpy="0 0 0.1"/><axis xyz="{axes[j % 3]}"/>'
                '<limit lower="-3" upper="3" effort="1" velocity="1"/></joint>\n' + link.format(j))
    return xml + "</robot>\n"


def report(label: str, seconds: list) -> None:
    us = np.array(seconds[200:]) * 1e6
    print(f"{label}: median {np.median(us):.1f} us, p99 {np.percentile(us, 99):.1f} us, "
          f"min {us.min():.1f} us per call ({ROBOTS} robots x {JOINTS} joints)")


def main() -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".urdf") as f:
        f.write(chain_urdf(JOINTS))
        f.flush()
        model = UrdfModel(f.name)
    assert model.dof == JOINTS
    rng = np.random.default_rng(0)
    frames = [rng.uniform(-3, 3, size=(ROBOTS, JOINTS)) for _ in range(2)]
    with model.create_writer(f"bench.pyurdf.{os.getpid()}", robots=ROBOTS) as writer:
        robots = model.spawn(writer, ROBOTS, spacing=1.0)
        times = []
        for i in range(CALLS):
            q = frames[i % 2]
            start = time.perf_counter()
            robots.fk(q)
            times.append(time.perf_counter() - start)
        report("python UrdfRobots.fk (FK + staging, one C call)", times)
        times = []
        for i in range(CALLS):
            q = frames[i % 2]
            start = time.perf_counter()
            robots.fk(q)
            stats = writer.publish(i * 0.01)
            times.append(time.perf_counter() - start)
        assert stats["dirty_links"] == ROBOTS * (JOINTS + 1) - ROBOTS  # the bases stand still
        report("python UrdfRobots.fk + publish", times)
    times = []
    for i in range(CALLS):
        start = time.perf_counter()
        poses = model.forward_kinematics(frames[i % 2])
        times.append(time.perf_counter() - start)
    assert poses.shape == (ROBOTS, JOINTS + 1, 7)
    report("python UrdfModel.forward_kinematics (into a new NumPy array)", times)


if __name__ == "__main__":
    main()
