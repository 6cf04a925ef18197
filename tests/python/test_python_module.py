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

    # ppo_trainer.py and env_pool.py (the demo's training loop) are tested by test_training.py.

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


GEOMETRY_DUMP = os.environ.get("FLEETSCOPE_GEOMETRY_DUMP")


def read_geometry(name):
    """Models, stored meshes and robots (attribute words, poses) as the C++ reader gets them; its
    float32 values (printed with 9 digits) as the Python floats of those float32 values."""
    import json
    out = subprocess.run([GEOMETRY_DUMP, name], check=True, capture_output=True, text=True).stdout
    return json.loads(out, parse_float=lambda text: float(np.float32(text)))


def f32(values):
    return [float(np.float32(v)) for v in values]


def tetrahedron(offset=(0.0, 0.0, 0.0)):
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32) + np.float32(offset)
    triangles = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]], dtype=np.uint32)
    return vertices, triangles


@unittest.skipUnless(GEOMETRY_DUMP, "FLEETSCOPE_GEOMETRY_DUMP is not set (run through ctest)")
class Geometry(unittest.TestCase):
    """Segment format 1.3 from Python: stored meshes, links with any number of visuals of any
    shape, static robots, robot colours and attributes; read back by a C++ reader."""

    def setUp(self):
        self.name = f"test.py.geom.{os.getpid()}.{self._testMethodName[-12:]}"

    def tearDown(self):
        try:
            os.unlink(f"/dev/shm/fleetscope.{self.name}")
        except FileNotFoundError:
            pass

    def assert_visual(self, got, link, shape, dims, scale=(1, 1, 1), offset=(0, 0, 0), orientation=(0, 0, 0, 1),
                      rgba=(200, 200, 200, 255), mesh_path="", mesh=0):
        self.assertEqual(got["link"], link)
        self.assertEqual(got["shape"], shape)
        self.assertEqual(got["dims"], f32(dims))
        self.assertEqual(got["scale"], f32(scale))
        self.assertEqual(got["offset"], f32(offset))
        self.assertEqual(got["orientation"], f32(orientation))
        self.assertEqual(got["rgba"], list(rgba))
        self.assertEqual(got["mesh_path"], mesh_path)
        self.assertEqual(got["mesh"], mesh)

    def test_every_shape_and_stored_meshes_read_back(self):
        for compress in (True, False):
            with self.subTest(compress=compress), \
                    fleetscope.Writer(self.name, max_robots=2, max_links=8, mesh_bytes=1 << 16, max_meshes=4,
                                      compress_meshes=compress) as w:
                # A grid: repetitive enough for zstd. float64 positions are stored as float32.
                n = 8
                xs, ys = np.meshgrid(np.arange(n) * 0.1, np.arange(n) * 0.2)
                grid = np.stack([xs.ravel(), ys.ravel(), np.zeros(n * n)], axis=1)
                cells = [(y * n + x) for y in range(n - 1) for x in range(n - 1)]
                grid_tris = np.array([t for c in cells for t in ([c, c + 1, c + n + 1], [c, c + n + 1, c + n])],
                                     dtype=np.int64)
                normals = np.tile(np.array([0.0, 0.0, 1.0], dtype=np.float32), (n * n, 1))
                g = w.add_mesh(grid, grid_tris, normals)
                v, t = tetrahedron()
                tet = w.add_mesh(v, t)
                self.assertEqual((g, tet), (0, 1))
                self.assertEqual(w.add_mesh(v.copy(), t.astype(np.uint64)), tet)  # stored once
                self.assertEqual(w.add_mesh(grid, grid_tris, normals), g)
                model = w.add_model("all", [
                    fleetscope.Box((0.5, 0.4, 0.3), name="base", color=(1, 2, 3)),
                    fleetscope.Link("arm", [
                        fleetscope.Sphere(0.1, offset=(0, 0, 0.5)),
                        fleetscope.Cylinder(0.05, 0.4, orientation=(0, 0.6, 0, 0.8)),
                        fleetscope.Capsule(0.04, 0.3, color=(10, 20, 30, 40)),
                        fleetscope.Mesh("/meshes/arm.stl", scale=(2, 2, 2)),
                    ]),
                    fleetscope.Link("bare"),
                    fleetscope.Link("tool", [
                        fleetscope.Plane(2.0, 3.0),
                        fleetscope.Ellipsoid(0.1, 0.2, 0.3, offset=(1, 2, 3)),
                        fleetscope.StoredMesh(g, scale=(1, -1, 0.5), color=(9, 9, 9, 128)),
                        fleetscope.InlineMesh(tet),
                    ]),
                ])
                self.assertEqual(model, 0)
                w.spawn_robot("r", model)
                w.publish(0.0)
                d = read_geometry(self.name)
                self.assertEqual(d["format"], [1, 3])
                m = d["models"][0]
                self.assertEqual([link["name"] for link in m["links"]], ["base", "arm", "bare", "tool"])
                got = m["visuals"]
                self.assertEqual(len(got), 9)
                B, S, C, K, M, P, E, I = range(8)
                self.assert_visual(got[0], 0, B, (0.5, 0.4, 0.3), rgba=(1, 2, 3, 255))
                self.assert_visual(got[1], 1, S, (0.1, 0, 0), offset=(0, 0, 0.5))
                self.assert_visual(got[2], 1, C, (0.05, 0.4, 0), orientation=(0, 0.6, 0, 0.8))
                self.assert_visual(got[3], 1, K, (0.04, 0.3, 0), rgba=(10, 20, 30, 40))
                self.assert_visual(got[4], 1, M, (0, 0, 0), scale=(2, 2, 2), mesh_path="/meshes/arm.stl")
                self.assert_visual(got[5], 3, P, (2.0, 3.0, 0))
                self.assert_visual(got[6], 3, E, (0.1, 0.2, 0.3), offset=(1, 2, 3))
                self.assert_visual(got[7], 3, I, (0, 0, 0), scale=(1, -1, 0.5), rgba=(9, 9, 9, 128), mesh=g)
                self.assert_visual(got[8], 3, I, (0, 0, 0), mesh=tet)
                self.assertEqual(len(d["meshes"]), 2)
                self.assertEqual(d["meshes"][g]["vertices"], f32(grid.ravel()))
                self.assertEqual(d["meshes"][g]["triangles"], grid_tris.ravel().tolist())
                self.assertEqual(d["meshes"][g]["normals"], f32(normals.ravel()))
                self.assertEqual(d["meshes"][tet]["vertices"], f32(v.ravel()))
                self.assertEqual(d["meshes"][tet]["triangles"], t.ravel().tolist())
                self.assertEqual(d["meshes"][tet]["normals"], [])
                out = subprocess.run([SHM, "inspect", self.name], check=True, capture_output=True, text=True).stdout
                self.assertIn("meshes       2 of 4 stored, 65536-byte arena", out)
                self.assertIn("mesh 0    64 vertices, 98 triangles, normals", out)

    def test_a_model_of_one_new_shape_per_link_and_the_old_path_alike(self):
        with fleetscope.Writer(self.name, max_robots=2, max_links=4) as w:
            old = w.add_model("old", [fleetscope.Box((1, 1, 1), name="a"), fleetscope.Sphere(0.5)])
            new = w.add_model("new", [fleetscope.Plane(4, 4, name="floor"), fleetscope.Box((1, 2, 3))])
            d = read_geometry(self.name)
        self.assertEqual((old, new), (0, 1))
        self.assertEqual([v["name"] for v in d["models"][0]["links"]], ["a", "link1"])
        self.assertEqual([v["shape"] for v in d["models"][0]["visuals"]], [0, 1])
        self.assertEqual([v["name"] for v in d["models"][1]["links"]], ["floor", "link1"])
        self.assertEqual([v["shape"] for v in d["models"][1]["visuals"]], [5, 0])
        # What a 1.2 reader draws for the plane: a 1 mm box of its size.
        self.assertEqual(d["models"][1]["links"][0]["shape"], 0)
        self.assertEqual(d["models"][1]["links"][0]["dims"], f32((4, 4, 0.001)))

    def test_static_robots_colours_and_attributes_reach_the_reader(self):
        with fleetscope.Writer(self.name, max_robots=4, max_links=4) as w:
            world = w.add_model("world", [fleetscope.Plane(10, 10), fleetscope.Link("post", [fleetscope.Cylinder(0.1, 2)])])
            arm = w.add_model("arm", [fleetscope.Box((1, 1, 1))])
            r0 = w.spawn_robot("r0", arm)
            at = np.array([[0, 0, 0, 0, 0, 0, 1], [3, 4, 1, 0, 0, 0, 1]], dtype=np.float32)
            ground = w.spawn_static("ground", world, at)
            r1 = w.spawn_robot("r1", arm)
            self.assertEqual(w.total_links, 2)  # not the static robot's
            self.assertEqual(w.link_count(ground), 2)
            with self.assertRaisesRegex(ValueError, "static"):
                w.set_robot_poses(ground, at.astype(np.float64))
            poses = np.zeros((2, 7))
            poses[:, 6] = 1.0
            poses[1, 0] = 7.0
            w.set_all_poses(poses)
            w.set_robot_color(r0, (255, 128, 0))
            w.set_robot_attributes(r0, worker=3, environment=np.uint32(4), scalar=-2.5)
            w.set_robot_attributes(r1, environment=0)
            w.publish(1.0)
            robots = {r["name"]: r for r in read_geometry(self.name)["robots"]}
            self.assertEqual(robots["ground"]["color_and_flags"] >> 32, 2)  # static
            self.assertEqual(robots["ground"]["poses"][1][:3], [3, 4, 1])
            self.assertEqual(robots["r1"]["poses"][0][0], 7.0)
            self.assertEqual(robots["r0"]["color_and_flags"], (1 | 4 | 8) << 32 | 0xFF0080FF)
            self.assertEqual(robots["r0"]["producer"], 4 << 32 | 3)
            self.assertEqual(np.array(robots["r0"]["scalar_bits"], dtype=np.uint64).view(np.float64), -2.5)
            self.assertEqual(robots["r1"]["color_and_flags"], 4 << 32)
            self.assertEqual(robots["r1"]["producer"], 0xFFFFFFFF)  # worker not given: all ones
            # Back to the model's colours and no attributes: a change without poses.
            w.set_robot_color(r0, None)
            w.set_robot_attributes(r0)
            stats = w.publish(2.0)
            self.assertEqual((stats["changed_robots"], stats["dirty_links"]), (1, 0))
            robots = {r["name"]: r for r in read_geometry(self.name)["robots"]}
            self.assertEqual((robots["r0"]["color_and_flags"], robots["r0"]["producer"], robots["r0"]["scalar_bits"]),
                             (0, 0, 0))
            w.remove_robot(ground)
            self.assertEqual(w.total_links, 2)
            w.remove_robot(r0)
            self.assertEqual(w.total_links, 1)
            self.assertEqual([r["name"] for r in read_geometry(self.name)["robots"]], ["r1"])

    def test_bad_geometry_arguments_raise_and_change_nothing(self):
        for kwargs, message in [(dict(mesh_bytes=-1), "mesh_bytes must be an integer in 0..18446744073709551615"),
                                (dict(mesh_bytes=2**64), "mesh_bytes"), (dict(max_meshes=0), "max_meshes"),
                                (dict(max_meshes=1.5), "max_meshes"), (dict(max_geometry_visuals=-1), "max_geometry_visuals"),
                                (dict(max_meshes=2**16 + 1), "mesh capacity"), (dict(mesh_bytes=2**33 + 1), "mesh bytes")]:
            with self.subTest(**{k: repr(v) for k, v in kwargs.items()}):
                with self.assertRaisesRegex(fleetscope.InvalidArgumentError, message):
                    fleetscope.Writer(self.name, **kwargs)
                self.assertFalse(os.path.exists(f"/dev/shm/fleetscope.{self.name}"))
        with fleetscope.Writer(self.name, max_robots=2, max_links=2, mesh_bytes=256, max_meshes=2) as w:
            v, t = tetrahedron()
            bad_meshes = [
                ((v.tolist(), t), "vertices must be a NumPy array"),
                ((v[:, :2], t), r"vertices must have shape \(N, 3\) with N >= 1, got \(4, 2\)"),
                ((v[:0], t), r"vertices must have shape \(N, 3\) with N >= 1"),
                ((v.astype(bool), t), "vertices must hold floats"),
                ((np.where(v == 1, np.nan, v), t), r"vertices\[1, 0\] is nan"),
                ((v.astype(np.float64) * 1e39, t), r"vertices\[1, 0\] is 1e\+39"),
                ((v, t.astype(np.float32)), "triangles must hold integers"),
                ((v, t.astype(np.int64) - 1), r"triangles must hold integers in 0..4294967295, got values from -1"),
                ((v, t.astype(np.int64) + 2**32), "triangles must hold integers in 0..4294967295"),
                ((v, t + 1), "triangle 1 refers to vertex 4 of 4"),
                ((v * 1e6, t), "beyond 100000 m"),
                ((v, t, v[:3]), r"normals must have the shape of vertices \(4, 3\)"),
                ((v, t, np.full_like(v, np.inf)), r"normals\[0, 0\] is inf"),
            ]
            for args, message in bad_meshes:
                with self.subTest(message=message):
                    with self.assertRaisesRegex(fleetscope.InvalidArgumentError, message):
                        w.add_mesh(*args)
            big = np.random.default_rng(0).uniform(-1, 1, size=(100, 3))
            fan = np.array([[0, i, i + 1] for i in range(1, 99)])
            with self.assertRaises(fleetscope.FleetscopeError) as ctx:
                w.add_mesh(big, fan)
            self.assertEqual(ctx.exception.status, 4)  # FS_ERR_CAPACITY
            self.assertIn("mesh_bytes", str(ctx.exception))
            mesh = w.add_mesh(v, t)
            bad_models = [
                ([fleetscope.LinkVisual(fleetscope.STORED_MESH)], "link 0 is a STORED_MESH without a mesh id"),
                ([fleetscope.StoredMesh(2**32)], r"link 0 mesh must be an integer in 0\.\.4294967295"),
                ([fleetscope.StoredMesh(-1)], "link 0 mesh must be an integer"),
                ([fleetscope.StoredMesh(mesh + 1)], "which was not added"),
                ([fleetscope.Link("l", [fleetscope.LinkVisual(fleetscope.BOX, mesh=mesh)])],
                 "link 0 visual 0 has a mesh id but is not a STORED_MESH"),
                ([fleetscope.Box((1, 1, 1), mesh=mesh)], "link 0 has a mesh id but is not a STORED_MESH"),
                ([fleetscope.Plane(1, 1, mesh_path="/a.stl")], "link 0 has a mesh_path but is not a MESH"),
                ([fleetscope.Link("l", [object()])], "link 0 visual 0 is not a LinkVisual"),
                ([fleetscope.Link("l", 5)], "link 0 visuals must be a sequence of LinkVisual"),
                ([fleetscope.Link("l", [fleetscope.LinkVisual(8)])], r"link 0 visual 0 shape must be an integer in 0\.\.7"),
                ([fleetscope.Box((1, 1, 1)), fleetscope.Link("l\0", [])], "link 1 name .* contains a NUL byte"),
                ([fleetscope.Link("l", [fleetscope.Ellipsoid(1, float("nan"), 1)])], r"dims\[1\] must be a finite"),
                ([fleetscope.Link("l", [fleetscope.Plane(1, 1, color=(1, 2))])], "color needs 3 or 4 integers"),
                ([fleetscope.Link(f"l{i}") for i in range(3)], "3 links; this segment allows 1..2"),
                ([], "at least one link"),
                ([fleetscope.Link("l"), "box"], "link 1 is not a LinkVisual or a Link"),
            ]
            for links, message in bad_models:
                with self.subTest(message=message):
                    with self.assertRaisesRegex(fleetscope.InvalidArgumentError, message):
                        w.add_model("bad", links)
            model = w.add_model("ok", [fleetscope.Link("l", [fleetscope.StoredMesh(mesh)])])
            robot = w.spawn_robot("r", model)
            for call, message in [
                (lambda: w.spawn_static("s", model, np.zeros((2, 7))), r"must have shape \(1, 7\)"),
                (lambda: w.spawn_static("s", model, [[0, 0, 0, 0, 0, 0, 1]]), "NumPy array"),
                (lambda: w.spawn_static("s", model + 7, np.zeros((1, 7))), "unknown model"),
                (lambda: w.spawn_static("s\0", model, np.zeros((1, 7))), "robot name .* contains a NUL byte"),
                (lambda: w.spawn_static("s", model, np.array([[0, 0, 0, 0, 0, 0, np.nan]])), "NaN"),
                (lambda: w.set_robot_color(robot, (1, 2)), "rgba must be 3 or 4 integers"),
                (lambda: w.set_robot_color(robot, (0, 0, 256)), r"rgba\[2\] must be an integer in 0..255"),
                (lambda: w.set_robot_color(robot, 7), "rgba must be 3 or 4 integers in 0..255 or None"),
                (lambda: w.set_robot_color(robot + 5, (1, 2, 3)), "robot"),
                (lambda: w.set_robot_attributes(robot, worker=-1), r"worker must be an integer in 0\.\.4294967294"),
                (lambda: w.set_robot_attributes(robot, worker=2**32 - 1), "worker must be an integer"),
                (lambda: w.set_robot_attributes(robot, environment=1.5), "environment must be an integer"),
                (lambda: w.set_robot_attributes(robot, scalar=float("nan")), "scalar must be a finite number or None"),
                (lambda: w.set_robot_attributes(robot, scalar=float("-inf")), "scalar must be a finite number"),
                (lambda: w.set_robot_attributes(robot, scalar="high"), "scalar must be a finite number"),
                (lambda: w.set_robot_attributes(robot + 5, worker=1), "robot"),
            ]:
                with self.subTest(message=message):
                    with self.assertRaisesRegex(fleetscope.InvalidArgumentError, message):
                        call()
            w.publish(0.0)
            d = read_geometry(self.name)
            self.assertEqual([m["name"] for m in d["models"]], ["ok"])
            self.assertEqual(len(d["meshes"]), 1)
            self.assertEqual([(r["name"], r["color_and_flags"], r["producer"]) for r in d["robots"]], [("r", 0, 0)])
            self.assertEqual(w.total_links, 1)


if __name__ == "__main__":
    unittest.main()
