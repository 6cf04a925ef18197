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


class Telemetry(unittest.TestCase):
    def setUp(self):
        self.name = f"test.py.tel.{os.getpid()}.{self._testMethodName[-12:]}"

    def inspect(self):
        return subprocess.run([SHM, "inspect", self.name], check=True, capture_output=True, text=True).stdout

    def test_records_and_rows_reach_the_cpp_reader(self):
        with fleetscope.TelemetryWriter(self.name, scalar_capacity=64) as t:
            t.scalar("loss", 1, 0.5)
            t.scalars("reward", np.arange(10), np.linspace(0, 1, 10))
            t.scalars_at(11, {"a/x": 1.0, "a/y": 2.0})
            t.worker(4, pid=os.getpid(), host="gpu3", state="stalled", chunk_size=8, steps=1234, steps_per_s=99.5,
                     restarts=2)
            t.job("cup_001", target_count=50, collected_count=20, rounds_done=2, rounds_failed=1, gpu=3,
                  state="running")
            out = self.inspect()
        self.assertIn("ring 64 records (13 written), 4/256 tags, 1/256 workers, 1/1024 jobs", out)
        self.assertRegex(out, r"worker 4 +pid \d+ +gpu3 +stalled +steps 1234 \(99.5/s\) restarts 2")
        self.assertRegex(out, r"job +cup_001 +running +20/50 gpu 3 rounds 2 done 1 failed")

    def test_a_pose_writer_can_carry_telemetry_too(self):
        with fleetscope.Writer(self.name, max_robots=2, max_links=2, telemetry=True) as w:
            w.scalar("sim/rtf", 1, 0.98)
            self.assertIn("1/256 tags", self.inspect())
        with fleetscope.Writer(self.name, max_robots=2, max_links=2) as w:
            with self.assertRaisesRegex(fleetscope.InvalidArgumentError, "without a telemetry section"):
                w.scalar("sim/rtf", 1, 0.98)

    def test_bad_arguments_raise_clear_exceptions(self):
        with self.assertRaisesRegex(fleetscope.InvalidArgumentError, "power of two"):
            fleetscope.TelemetryWriter(self.name, scalar_capacity=1000)
        with fleetscope.TelemetryWriter(self.name) as t:
            with self.assertRaisesRegex(fleetscope.InvalidArgumentError, "same length"):
                t.scalars("x", [1, 2, 3], [1.0])
            with self.assertRaisesRegex(fleetscope.InvalidArgumentError, "unknown worker state 'sleepy'"):
                t.worker(1, state="sleepy")
            with self.assertRaisesRegex(fleetscope.InvalidArgumentError, "unknown job state"):
                t.job("x", target_count=1, state=9)
            with self.assertRaisesRegex(fleetscope.InvalidArgumentError, "longer than 63"):
                t.scalar("t" * 64, 0, 0.0)
            with self.assertRaisesRegex(fleetscope.FleetscopeError, "telemetry-only"):
                t.spawn_robot("r", 0)
        self.assertFalse(os.path.exists(f"/dev/shm/fleetscope.{self.name}"))


class Examples(unittest.TestCase):
    def run_example(self, script, *args, timeout=90):
        result = subprocess.run([sys.executable, os.path.join(EXAMPLES, script), *args], capture_output=True,
                                text=True, timeout=timeout)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout

    def assert_gone(self, name):
        self.assertFalse(os.path.exists(f"/dev/shm/fleetscope.{name}"), f"segment {name} left behind")

    def test_trainer_loop(self):
        name = f"test.py.trainer.{os.getpid()}"
        out = self.run_example("ppo_trainer.py", "--name", name, "--seconds", "1.5", "--iterations-per-s", "10",
                               "--envs", "16", "--horizon", "32")
        iterations = int(out.split()[1])
        self.assertGreaterEqual(iterations, 5, out)
        self.assert_gone(name)

    def test_env_pool_restarts_a_crashed_worker(self):
        name = f"test.py.pool.{os.getpid()}"
        out = self.run_example("env_pool.py", "--name", name, "--workers", "3", "--seconds", "5",
                               "--crash-worker", "1", "--crash-every", "1.5", "--restart-delay", "0.3",
                               "--stall-worker", "2", "--stall-every", "1", "--stall-seconds", "0.5")
        restarts = int(out.rsplit(",", 1)[1].split()[0])
        self.assertGreaterEqual(restarts, 1, out)
        self.assert_gone(name)

    def test_grasp_scheduler_writes_its_manifest(self):
        import json
        import tempfile
        name = f"test.py.grasp.{os.getpid()}"
        with tempfile.TemporaryDirectory() as tmp:
            self.run_example("grasp_scheduler.py", "--name", name, "--dir", tmp, "--objects", "3", "--gpus", "2",
                             "--quota", "60", "--speed", "6", "--seconds", "4", "--failure-rate", "0.3")
            with open(os.path.join(tmp, "manifest.json")) as f:
                manifest = json.load(f)
            self.assertEqual(len(manifest["objects"]), 3)
            for code, o in manifest["objects"].items():
                merged = [r for r in o["rounds"] if r["merge_state"] == "merged"]
                self.assertEqual(o["completed_rounds"], len(merged), code)
                self.assertEqual(o["collected_count"], min(60, sum(r["grasps"] for r in merged)), code)
                self.assertEqual(len(o["seeds_used"]), len(o["rounds"]), code)
                for r in merged:
                    self.assertTrue(os.path.exists(os.path.join(tmp, r["result_path"])), r["result_path"])
        self.assert_gone(name)


    def test_python_fleet_example_runs(self):
        name = f"test.py.example.{os.getpid()}"
        result = subprocess.run([sys.executable, os.path.join(EXAMPLES, "python_fleet.py"), "--name", name,
                                 "--seconds", "0.5", "--robots", "20"], capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("published", result.stdout)


if __name__ == "__main__":
    unittest.main()
