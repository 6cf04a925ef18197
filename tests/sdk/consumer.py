"""Publishes one frame through an installed fleetscope package; checks that both the package and
the library it loaded come from under PREFIX.  Usage: consumer.py SEGMENT PREFIX"""
import os
import sys

import numpy as np

import fleetscope

segment, prefix = sys.argv[1], os.path.realpath(sys.argv[2])
for what, path in (("package", fleetscope.__file__), ("library", fleetscope._lib._name)):
    if not os.path.realpath(path).startswith(prefix + os.sep):
        sys.exit(f"Python consumer: the {what} came from {path}, not from under {prefix}")
with fleetscope.Writer(segment, max_robots=4, max_links=2) as writer:
    block = writer.add_model("block", [fleetscope.Box((0.2, 0.2, 0.2))])
    writer.spawn_robot("block0", block)
    poses = np.zeros((writer.total_links, 7))
    poses[:, 6] = 1.0
    writer.set_all_poses(poses)
    stats = writer.publish(0.0)
print(f"Python consumer: segment {segment}, frame {stats['frame']}, library "
      f"{os.path.realpath(fleetscope._lib._name)}")
sys.exit(0 if stats["frame"] == 1 else 1)
