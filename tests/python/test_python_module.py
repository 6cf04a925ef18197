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



class OutOfRangeArguments(unittest.TestCase):
    """Integers outside the range of their C type, non-integral or non-finite counts and steps, bools
    as integers and strings with a NUL byte raise ValueError in Python, before anything reaches C:
    C would otherwise wrap (2**64 + 7 -> 7, -1 -> 0xFFFFFFFF: telemetry-only) or cut the string."""

    def setUp(self):
        self.name = f"test.py.rng.{os.getpid()}.{self._testMethodName[-12:]}"

    def tearDown(self):
        # Whatever a failing assertion left behind must not outlive the test.
        try:
            os.unlink(f"/dev/shm/fleetscope.{self.name}")
        except FileNotFoundError:
            pass

    def assert_gone(self, name):
        self.assertFalse(os.path.exists(f"/dev/shm/fleetscope.{name}"), f"segment {name} exists")

    def inspect(self):
        return subprocess.run([SHM, "inspect", self.name], check=True, capture_output=True, text=True).stdout

    def test_out_of_range_capacities_create_no_segment(self):
        with self.assertRaisesRegex(ValueError, r"max_robots must be an integer in 1\.\.4294967294.*got -1"):
            fleetscope.Writer(self.name, max_robots=-1, telemetry=True)  # C: 0xFFFFFFFF, telemetry-only
        self.assert_gone(self.name)
        bad = [dict(max_robots=0), dict(max_robots=2**32 + 5), dict(max_robots=1.5), dict(max_robots=True),
               dict(max_robots=float("nan")), dict(max_links=2**32), dict(max_links=-1),
               dict(max_models=2**32 + 16), dict(max_visuals="8"), dict(epsilon=-1.0),
               dict(epsilon=float("nan")), dict(telemetry=True, scalar_capacity=2**32 + 64),
               dict(telemetry=True, max_tags=-1), dict(telemetry=True, max_workers=2.5),
               dict(telemetry=True, max_jobs=float("inf"))]
        for kwargs in bad:
            with self.subTest(**{k: repr(v) for k, v in kwargs.items()}):
                argument = [k for k in kwargs if k != "telemetry"][0]
                with self.assertRaisesRegex(fleetscope.InvalidArgumentError, argument):
                    fleetscope.Writer(self.name, **kwargs)
                self.assert_gone(self.name)
        for kwargs in (dict(scalar_capacity=-1), dict(max_tags=2**32), dict(max_workers=0),
                       dict(max_jobs=1.5)):
            with self.subTest(telemetry_writer=repr(kwargs)):
                with self.assertRaisesRegex(ValueError, list(kwargs)[0]):
                    fleetscope.TelemetryWriter(self.name, **kwargs)
                self.assert_gone(self.name)
        # Valid values still work, integral floats and NumPy integers included.
        with fleetscope.Writer(self.name, max_robots=np.uint32(2), max_links=4.0, telemetry=True) as w:
            self.assertIn("capacity     2 robots x 4 links", self.inspect())
            w.scalar("x", 0, 1.0)
        with fleetscope.TelemetryWriter(self.name, scalar_capacity=64) as t:
            self.assertIn("ring 64 records", self.inspect())
            with self.assertRaisesRegex(fleetscope.FleetscopeError, "telemetry-only"):
                t.spawn_robot("r", 0)
        self.assert_gone(self.name)

    def test_names_with_a_nul_byte_are_refused(self):
        with self.assertRaisesRegex(ValueError, "segment name .* contains a NUL byte"):
            fleetscope.Writer(self.name + "\0tail")  # C would create the segment self.name
        self.assert_gone(self.name)
        with self.assertRaisesRegex(ValueError, "segment name must be a str"):
            fleetscope.Writer(self.name.encode())
        with fleetscope.Writer(self.name, max_robots=2, max_links=2, telemetry=True) as w:
            model = w.add_model("m", [fleetscope.Box((1, 1, 1))])
            for call, what in [(lambda: w.add_model("m\0x", [fleetscope.Box((1, 1, 1))]), "model name"),
                               (lambda: w.add_model("n", [fleetscope.Box((1, 1, 1), name="l\0")]), "link 0 name"),
                               (lambda: w.add_model("n", [fleetscope.Mesh("a\0.stl")]), "link 0 mesh_path"),
                               (lambda: w.spawn_robot("r\0x", model), "robot name"),
                               (lambda: w.scalar("tag\0x", 0, 1.0), "tag"),
                               (lambda: w.scalars_at(0, {"ok": 1.0, "tag\0x": 2.0}), "tag"),
                               (lambda: w.worker(1, host="gpu\0x"), "host"),
                               (lambda: w.job("cup\0x", target_count=1), "object_code")]:
                with self.subTest(what=what):
                    with self.assertRaisesRegex(fleetscope.InvalidArgumentError, f"{what} .* contains a NUL byte"):
                        call()
            out = self.inspect()
            self.assertIn("models       1\n", out)
            self.assertIn("robots       0\n", out)
            self.assertIn("(0 written), 0/256 tags, 0/256 workers, 0/1024 jobs", out)
            w.spawn_robot("r", model)
            w.scalars_at(0, {"ok": 1.0})
            self.assertIn("robots       1\n", self.inspect())
        self.assert_gone(self.name)

    def test_worker_and_job_integers_out_of_range_write_no_row(self):
        with fleetscope.TelemetryWriter(self.name) as t:
            bad_workers = [dict(pid=2**32 + 5), dict(pid=-1), dict(steps=-1), dict(steps=2**64 + 7),
                           dict(steps=1.5), dict(steps=float("nan")), dict(chunk_size=2**32),
                           dict(restarts=-1), dict(restarts=True)]
            for kwargs in bad_workers:
                with self.subTest(worker=repr(kwargs)):
                    with self.assertRaisesRegex(ValueError, f"{list(kwargs)[0]} must be an integer in"):
                        t.worker(4, **kwargs)
            with self.assertRaisesRegex(ValueError, r"worker_id must be an integer in 0\.\.4294967295"):
                t.worker(2**32 + 4)
            with self.assertRaisesRegex(ValueError, "unknown worker state 1.5"):
                t.worker(4, state=1.5)
            bad_jobs = [dict(target_count=2**64 + 7), dict(target_count=-1), dict(collected_count=2.5),
                        dict(rounds_done=2**32), dict(rounds_failed=-1), dict(rounds_retried=float("inf")),
                        dict(gpu=2**31), dict(gpu=-2), dict(last_seed=2**64), dict(last_seed=-1)]
            for kwargs in bad_jobs:
                with self.subTest(job=repr(kwargs)):
                    kwargs.setdefault("target_count", 10)
                    argument = [k for k in kwargs if k != "target_count"] or ["target_count"]
                    with self.assertRaisesRegex(ValueError, f"{argument[0]} must be an integer in"):
                        t.job("cup_001", **kwargs)
            self.assertIn("0/256 workers, 0/1024 jobs", self.inspect())
            # The extremes of each range are accepted.
            t.worker(2**32 - 1, pid=os.getpid(), steps=2**64 - 1, chunk_size=2**32 - 1, restarts=np.int64(3))
            t.job("cup_001", target_count=2**64 - 1, collected_count=7.0, gpu=-1, last_seed=2**64 - 1)
            out = self.inspect()
        self.assertRegex(out, r"worker 4294967295 +pid \d+ .*steps 18446744073709551615 .*restarts 3")
        self.assertRegex(out, r"job +cup_001 +queued +7/18446744073709551615 gpu -1")
        self.assert_gone(self.name)

    def test_steps_out_of_range_or_not_whole_record_nothing(self):
        with fleetscope.TelemetryWriter(self.name) as t:
            for step in (2**64 + 7, 2**63, -2**63 - 1, 1.5, float("nan"), float("inf"), True, "3", None):
                with self.subTest(step=repr(step)):
                    with self.assertRaisesRegex(ValueError, r"step must be an integer in "
                                                            r"-9223372036854775808\.\.9223372036854775807"):
                        t.scalar("loss", step, 0.5)
                    with self.assertRaisesRegex(ValueError, "step must be an integer in"):
                        t.scalars_at(step, {"a": 1.0, "b": 2.0})
            bad_batches = [np.array([1, 2**63], dtype=np.uint64), np.array([0.0, 1.5]), np.array([0.0, np.nan]),
                           np.array([1.0, np.inf]), np.array([0.0, 2.0**63]), [1, 2**64 + 7], [0, -2**63 - 1],
                           [1, 1.5], np.array([True, False]), ["1", "2"]]
            for steps in bad_batches:
                with self.subTest(steps=repr(steps)):
                    with self.assertRaisesRegex(ValueError, "steps must hold integers in "
                                                            r"-9223372036854775808\.\.9223372036854775807"):
                        t.scalars("reward", steps, np.zeros(len(steps)))
            self.assertIn("(0 written), 0/256 tags", self.inspect())
            # Whole numbers in range are accepted, as ints, integral floats or any integer dtype.
            t.scalar("loss", 2.0, float("nan"))
            t.scalar("loss", -2**63, 0.0)
            t.scalars_at(np.int64(2**63 - 1), {"a": 1.0})
            t.scalars("reward", np.array([0, 2**63 - 1], dtype=np.uint64), [0.0, 1.0])
            t.scalars("reward", np.array([-3.0, 4.0], dtype=np.float32), [0.0, 1.0])
            t.scalars("reward", np.arange(3, dtype=np.int16), np.ones(3))
            self.assertIn("(10 written), 3/256 tags", self.inspect())
        self.assert_gone(self.name)

    def test_model_robot_and_shape_integers_out_of_range(self):
        with fleetscope.Writer(self.name, max_robots=4, max_links=4) as w:
            model = w.add_model("m", [fleetscope.Box((1, 1, 1))])
            robot = w.spawn_robot("r0", model)
            bad_visuals = [(fleetscope.LinkVisual(2**32), "link 0 shape must be an integer in 0..4"),
                           (fleetscope.LinkVisual(1.5), "link 0 shape must be an integer in 0..4"),
                           (fleetscope.Box((1, 1, 1), color=(0, 0, 256)), r"link 0 color\[2\] must be an integer in 0..255"),
                           (fleetscope.Box((1, 1, 1), color=(0, 0, 2.5)), r"link 0 color\[2\]"),
                           (fleetscope.Box((1, 1, float("nan"))), r"dims\[2\] must be a finite number"),
                           (fleetscope.Box((1, 1, 1e39)), r"dims\[2\] must be a finite number")]
            for visual, message in bad_visuals:
                with self.subTest(message=message):
                    with self.assertRaisesRegex(ValueError, message):
                        w.add_model("bad", [visual])
            for model_id in (2**32 + model, -1, 0.5):
                with self.assertRaisesRegex(ValueError, r"model must be an integer in 0\.\.4294967295"):
                    w.spawn_robot("r1", model_id)
            # 2**32 + robot would reach C as `robot` and remove or pose the wrong robot.
            with self.assertRaisesRegex(ValueError, r"robot must be an integer in 0\.\.4294967295"):
                w.remove_robot(2**32 + robot)
            with self.assertRaisesRegex(ValueError, r"robot must be an integer in 0\.\.4294967295"):
                w.set_robot_poses(2**32 + robot, np.zeros((1, 7)))
            with self.assertRaisesRegex(ValueError, r"robot must be an integer in 0\.\.4294967295"):
                w.link_count(-1)
            out = self.inspect()
            self.assertIn("models       1\n", out)
            self.assertIn("robots       1\n", out)
            self.assertEqual(w.link_count(robot), 1)
            w.remove_robot(float(robot))
            self.assertIn("robots       0\n", self.inspect())
        self.assert_gone(self.name)

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
