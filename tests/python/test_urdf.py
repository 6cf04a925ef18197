"""fleetscope.urdf: a URDF loaded into a writer, robots spawned, joint positions from NumPy turned
into link poses in the segment by one C call, as the C++ reader gets them back."""
import math
import os
import subprocess
import tempfile
import unittest

import numpy as np

import fleetscope
from fleetscope.urdf import UrdfModel

SHM = os.environ["FLEETSCOPE_SHM"]
URDF_DIR = os.environ["FLEETSCOPE_URDF_DIR"]
S = math.sqrt(0.5)


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


def assert_pose(test, actual, expected, places=5):
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if np.dot(actual[3:], expected[3:]) < 0:  # q and -q are the same rotation
        expected[3:] = -expected[3:]
    np.testing.assert_allclose(actual, expected, atol=10 ** -places)


class UrdfModelTest(unittest.TestCase):
    def test_orders_and_limits(self):
        arm = UrdfModel(os.path.join(URDF_DIR, "fs_arm6.urdf"))
        self.assertEqual(arm.name, "fs_arm6")
        self.assertEqual(arm.link_names[0], "base_link")
        self.assertEqual(arm.link_names[-1], "tool0")
        self.assertEqual(arm.joint_names, ("shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3"))
        self.assertEqual(arm.dof, 6)
        self.assertEqual(arm.link_count, 8)
        np.testing.assert_allclose(arm.lower[:3], [-3.1416, -2.0, -2.5])
        self.assertEqual(arm.footprint["meshes"], 2)

    def test_forward_kinematics_of_known_angles(self):
        arm = UrdfModel(os.path.join(URDF_DIR, "fs_arm6.urdf"))
        q = np.zeros((3, 6))
        q[1, 1] = math.pi / 2                    # shoulder lift: the arm lies along +x
        q[2, 0] = q[2, 1] = math.pi / 2          # and the pan turns it to +y
        poses = arm.forward_kinematics(q)
        self.assertEqual(poses.shape, (3, 8, 7))
        self.assertEqual(poses.dtype, np.float32)
        assert_pose(self, poses[0, -1], [0, 0, 0.96, 0, 0, 0, 1])
        assert_pose(self, poses[1, -1], [0.78, 0, 0.18, 0, S, 0, S])
        assert_pose(self, poses[2, -1], [0, 0.78, 0.18, -0.5, 0.5, 0.5, 0.5])
        # A base pose: shifted 1 m along x, turned 180° about z.
        shifted = arm.forward_kinematics(q[:1], base_poses=[[1, 0, 0, 0, 0, 1, 0]])
        assert_pose(self, shifted[0, -1], [1, 0, 0.96, 0, 0, 1, 0])

    def test_errors_name_the_file_link_and_reason(self):
        with self.assertRaises(fleetscope.FleetscopeError) as missing:
            UrdfModel("/nonexistent/robot.urdf")
        self.assertEqual(missing.exception.status, 3)  # not found
        self.assertIn("/nonexistent/robot.urdf", str(missing.exception))
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "r.urdf")
            with open(path, "w") as f:
                f.write('<robot name="r"><link name="hand"><visual><geometry>'
                        '<mesh filename="meshes/none.stl"/></geometry></visual></link></robot>')
            with self.assertRaises(fleetscope.FleetscopeError) as mesh:
                UrdfModel(path)
            self.assertIn("link 'hand'", str(mesh.exception))
            self.assertIn("meshes/none.stl", str(mesh.exception))
            with open(path, "w") as f:
                f.write('<robot name="r"><link name="a">')
            with self.assertRaises(fleetscope.InvalidArgumentError) as malformed:
                UrdfModel(path)
            self.assertIn("malformed", str(malformed.exception))

    def test_search_path_finds_relative_meshes(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "r.urdf")
            with open(path, "w") as f:
                f.write('<robot name="r"><link name="palm"><visual><geometry>'
                        '<mesh filename="meshes/palm.stl"/></geometry></visual></link></robot>')
            model = UrdfModel(path, search_path=[URDF_DIR], model_name="renamed")
            self.assertEqual(model.name, "renamed")
            self.assertEqual(model.footprint["meshes"], 1)


class UrdfRobotsTest(unittest.TestCase):
    def setUp(self):
        self.name = f"test.pyurdf.{os.getpid()}.{self._testMethodName[-12:]}"

    def test_fk_writes_every_robot_in_one_call(self):
        gripper = UrdfModel(os.path.join(URDF_DIR, "fs_gripper.urdf"))
        with gripper.create_writer(self.name, robots=6) as writer:
            robots = gripper.spawn(writer, 6, prefix="g", spacing=1.0)
            self.assertEqual(len(robots), 6)
            self.assertEqual(writer.total_links, 18)
            q = np.linspace(0.0, 0.04, 6).reshape(6, 1)
            robots.fk(q)
            stats = writer.publish(0.0)
            self.assertEqual(stats["changed_robots"], 6)
            got = read_back(self.name)
            expected = gripper.forward_kinematics(q, robots.base_poses)
            for r in range(6):
                for link in range(3):
                    np.testing.assert_allclose(got[(f"g{r}", link)], expected[r, link], atol=1e-6)
            # Robot 5 of a 3 x 3 grid 1 m apart: (2, 1); its left finger 0.04 out, its right mirrored.
            assert_pose(self, got[("g5", 1)], [2, 1.04, 0.06, 0, 0, 0, 1])
            assert_pose(self, got[("g5", 2)], [2, 0.96, 0.06, 0, 0, 1, 0])

    def test_base_poses_and_refusals(self):
        arm = UrdfModel(os.path.join(URDF_DIR, "fs_arm6.urdf"))
        with arm.create_writer(self.name, robots=2) as writer:
            robots = arm.spawn(writer, 2)
            robots.set_base_pose(1, [5, 5, 0, 0, 0, 0, 1])
            q = np.zeros((2, 6), dtype=np.float32)  # converted to float64
            robots.fk(q)
            writer.publish(1.0)
            assert_pose(self, read_back(self.name)[("fs_arm61", 7)], [5, 5, 0.96, 0, 0, 0, 1])
            with self.assertRaises(fleetscope.InvalidArgumentError):
                robots.fk(np.zeros((2, 5)))
            bad = np.zeros((2, 6))
            bad[1, 2] = np.nan
            with self.assertRaises(fleetscope.InvalidArgumentError) as nan:
                robots.fk(bad)
            self.assertIn("not finite", str(nan.exception))
            self.assertEqual(writer.publish(2.0)["dirty_links"], 0)  # nothing staged by the refused call
            with self.assertRaises(fleetscope.InvalidArgumentError):
                robots.set_base_poses(np.zeros((3, 7)))

    def test_random_joints_of_the_mobile_manipulator_round_trip(self):
        mobile = UrdfModel(os.path.join(URDF_DIR, "fs_mobile_manipulator.urdf"))
        with mobile.create_writer(self.name, robots=2) as writer:
            fleet = mobile.spawn(writer, 2, prefix="mm")
            rng = np.random.default_rng(3)
            q = rng.uniform(mobile.lower, mobile.upper, size=(2, mobile.dof))
            fleet.fk(q)
            writer.publish(0.0)
            got = read_back(self.name)
            expected = mobile.forward_kinematics(q, fleet.base_poses)
            for r in range(2):
                for link in range(mobile.link_count):
                    np.testing.assert_allclose(got[(f"mm{r}", link)], expected[r, link], atol=1e-5)


if __name__ == "__main__":
    unittest.main()
