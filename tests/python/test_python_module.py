"""The Python module over the C ABI: a Python writer and the C++ reader agree on every pose,
and bad arguments raise clear Python exceptions."""
import os
import subprocess
import sys
import unittest

import numpy as np

import fleetscope

SHM = os.environ["FLEETSCOPE_SHM"]
EXAMPLES = os.environ["FLEETSCOPE_EXAMPLES"]


def read_back(name):
    """Poses as the C++ reader sees them: {(robot name, link): 7 float32 values}."""
    out = subprocess.run([SHM, "dump", name], check=True, capture_output=True, text=True).stdout
    poses = {}
    for line in out.splitlines():
        if line.startswith("#"):
            continue
        fields = line.split()
        poses[(fields[0], int(fields[1]))] = np.array([float(v) for v in fields[2:]], dtype=np.float32)
    return poses


def random_poses(rng, n):
    poses = np.empty((n, 7))
    poses[:, :3] = rng.uniform(-50, 50, size=(n, 3))
    q = rng.normal(size=(n, 4))
    poses[:, 3:] = q / np.linalg.norm(q, axis=1, keepdims=True)
    return poses


class PythonWriterCppReader(unittest.TestCase):
    def setUp(self):
        self.name = f"test.py.{os.getpid()}.{self._testMethodName[-16:]}"
        self.writer = fleetscope.Writer(self.name, max_robots=8, max_links=30)
        self.small = self.writer.add_model("small", [fleetscope.Box((0.5, 0.4, 0.2))] * 10)
        self.large = self.writer.add_model("large", [fleetscope.Capsule(0.05, 0.3, offset=(0, 0, 0.2))] * 30)
        self.robots = [self.writer.spawn_robot(f"r{i}", self.small if i % 2 else self.large) for i in range(5)]

    def tearDown(self):
        self.writer.close()

    def expected(self, poses):
        rows, out = 0, {}
        for i, robot in enumerate(self.robots):
            n = self.writer.link_count(robot)
            for link in range(n):
                out[(f"r{i}", link)] = poses[rows + link].astype(np.float32)
            rows += n
        return out

    def assert_agree(self, poses):
        got = read_back(self.name)
        want = self.expected(poses)
        self.assertEqual(set(got), set(want))
        for key, value in want.items():
            np.testing.assert_array_equal(got[key], value, err_msg=str(key))

    def test_set_all_poses_float64_round_trips_exactly(self):
        rng = np.random.default_rng(1)
        self.assertEqual(self.writer.total_links, 30 * 3 + 10 * 2)
        for step in range(3):
            poses = random_poses(rng, self.writer.total_links)
            self.writer.set_all_poses(poses)
            stats = self.writer.publish(step * 0.1)
            self.assertEqual(stats["frame"], step + 1)
            self.assert_agree(poses)

    def test_set_all_poses_float32_and_per_robot_calls(self):
        rng = np.random.default_rng(2)
        poses = random_poses(rng, self.writer.total_links).astype(np.float32)
        self.writer.set_all_poses(poses)
        self.writer.publish(0.0)
        self.assert_agree(poses.astype(np.float64))
        update = random_poses(rng, 10)
        self.writer.set_robot_poses(self.robots[1], update)
        stats = self.writer.publish(1.0)
        self.assertEqual(stats["dirty_links"], 10)
        poses = poses.astype(np.float64)
        poses[30:40] = update
        self.assert_agree(poses)

    def test_non_contiguous_arrays_are_accepted(self):
        rng = np.random.default_rng(3)
        wide = np.zeros((self.writer.total_links, 14))
        wide[:, ::2] = random_poses(rng, self.writer.total_links)
        self.writer.set_all_poses(wide[:, ::2])
        self.writer.publish(0.0)
        self.assert_agree(wide[:, ::2])

    def test_bad_arguments_raise_clear_exceptions(self):
        n = self.writer.total_links
        with self.assertRaisesRegex(ValueError, r"shape \(110, 7\)"):
            self.writer.set_all_poses(np.zeros((n, 6)))
        with self.assertRaisesRegex(ValueError, "float64 or float32"):
            self.writer.set_all_poses(np.zeros((n, 7), dtype=np.int64))
        with self.assertRaisesRegex(ValueError, "NumPy array"):
            self.writer.set_all_poses([[0.0] * 7] * n)
        with self.assertRaisesRegex(ValueError, "unknown robot id 999"):
            self.writer.set_robot_poses(999, np.zeros((10, 7)))
        bad = np.zeros((10, 7)); bad[:, 6] = 1.0; bad[3, 0] = np.nan
        with self.assertRaisesRegex(ValueError, "NaN"):
            self.writer.set_robot_poses(self.robots[1], bad)
        with self.assertRaisesRegex(ValueError, "unknown model"):
            self.writer.spawn_robot("x", 42)
        with self.assertRaisesRegex(ValueError, "dims needs 3 numbers"):
            self.writer.add_model("bad", [fleetscope.LinkVisual(fleetscope.BOX, dims=(1, 2))])
        with self.assertRaises(fleetscope.FleetscopeError) as ctx:
            for i in range(10):
                self.writer.spawn_robot(f"extra{i}", self.small)
        self.assertIn("at most 8 robots", str(ctx.exception))
        with self.assertRaisesRegex(ValueError, "invalid segment name"):
            fleetscope.Writer("no/slashes")
        with self.assertRaises(fleetscope.FleetscopeError):
            fleetscope.Writer(self.name)  # a live writer holds the name

    def test_closed_writer_raises_and_segment_is_gone(self):
        self.writer.close()
        with self.assertRaisesRegex(fleetscope.FleetscopeError, "closed"):
            self.writer.publish(0.0)
        result = subprocess.run([SHM, "inspect", self.name], capture_output=True, text=True)
        self.assertEqual(result.returncode, 1)
        self.assertIn("no such segment", result.stderr)


class Examples(unittest.TestCase):
    def test_python_fleet_example_runs(self):
        name = f"test.py.example.{os.getpid()}"
        result = subprocess.run([sys.executable, os.path.join(EXAMPLES, "python_fleet.py"), "--name", name,
                                 "--seconds", "0.5", "--robots", "20"], capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("published", result.stdout)


if __name__ == "__main__":
    unittest.main()
