"""URDF robots for fleetscope: load a URDF (meshes stored in the segment), spawn robots of it and
write their link poses from joint positions with one C call per step (forward kinematics in C++).

A thin ctypes layer over ``fleetscope/urdf.h`` in the same library as :mod:`fleetscope`.

Example::

    import numpy as np
    from fleetscope.urdf import UrdfModel

    arm = UrdfModel("resources/urdf/fs_arm6.urdf")
    with arm.create_writer("arms", robots=100) as writer:
        robots = arm.spawn(writer, 100, spacing=1.5)        # a 10 x 10 grid
        q = np.zeros((100, arm.dof))                           # columns: arm.joint_names
        for step in range(1000):
            q[:] = np.sin(step * 0.01)
            robots.fk(q)                                       # FK and staging, one C call
            writer.publish(step * 0.01)

Orders: links depth first from the root link (``link_names``), joint positions one column per
actuated joint (``joint_names``: revolute, continuous, prismatic; mimic joints follow the joint
they mimic). Radians and metres; poses are ``x y z qx qy qz qw``. Errors raise
:class:`fleetscope.FleetscopeError` (a missing URDF or mesh file has ``status`` 3, not found;
a malformed URDF or an unsupported mesh :class:`fleetscope.InvalidArgumentError`), with a message
naming the file, the link and the reason.
"""
from __future__ import annotations

import ctypes
import math
import os
from typing import Sequence

import numpy as np

import fleetscope
from fleetscope import (FleetscopeError, InvalidArgumentError, Writer, _check, _check_int, _check_text, _lib,
                        _WriterOptions, _U32)

__all__ = ["UrdfModel", "UrdfRobots"]

_h = ctypes.c_void_p
_vp = ctypes.c_void_p  # NumPy data pointers are passed as plain addresses: no per-call ctypes casts
_INVALID_ARGUMENT = 1


class _UrdfOptions(ctypes.Structure):
    _fields_ = [("search_path", ctypes.POINTER(ctypes.c_char_p)), ("search_path_count", ctypes.c_size_t),
                ("use_ros_package_path", ctypes.c_int), ("model_name", ctypes.c_char_p)]


class _GeometryOptions(ctypes.Structure):
    _fields_ = [("max_visuals", ctypes.c_uint32), ("max_meshes", ctypes.c_uint32),
                ("mesh_bytes", ctypes.c_uint64), ("compress", ctypes.c_int)]


class _Footprint(ctypes.Structure):
    _fields_ = [("links", ctypes.c_uint32), ("visuals", ctypes.c_uint32), ("meshes", ctypes.c_uint32),
                ("mesh_bytes", ctypes.c_uint64)]


_u32p = ctypes.POINTER(ctypes.c_uint32)
_str = ctypes.POINTER(ctypes.c_char_p)
for _name, _args in {
    "fs_urdf_load": [ctypes.c_char_p, ctypes.POINTER(_UrdfOptions), ctypes.POINTER(_h)],
    "fs_urdf_name": [_h, _str],
    "fs_urdf_link_count": [_h, _u32p],
    "fs_urdf_dof": [_h, _u32p],
    "fs_urdf_link_name": [_h, ctypes.c_uint32, _str],
    "fs_urdf_joint_name": [_h, ctypes.c_uint32, _str],
    "fs_urdf_joint_limits": [_h, _vp, _vp],
    "fs_urdf_footprint_of": [_h, ctypes.POINTER(_Footprint)],
    "fs_urdf_reserve": [_h, ctypes.c_uint32, ctypes.POINTER(_WriterOptions), ctypes.POINTER(_GeometryOptions)],
    "fs_urdf_add_to_writer": [_h, _h, _u32p],
    "fs_urdf_forward_kinematics": [_h, _vp, ctypes.c_size_t, _vp, _vp],
    "fs_urdf_write_poses": [_h, _h, _vp, ctypes.c_size_t, _vp, _vp],
}.items():
    _fn = getattr(_lib, _name)
    _fn.argtypes = _args
    _fn.restype = ctypes.c_int
_lib.fs_urdf_destroy.argtypes = [_h]
_lib.fs_urdf_destroy.restype = None
_lib.fs_urdf_options_init.argtypes = [ctypes.POINTER(_UrdfOptions)]
_lib.fs_urdf_options_init.restype = None
# A function object of our own (CDLL's [] does not cache it): fleetscope declares the shared
# attribute's argtypes with its own structure classes.
_create_with_geometry = _lib["fs_writer_create_with_geometry"]
_create_with_geometry.argtypes = [ctypes.POINTER(_WriterOptions), ctypes.c_void_p, ctypes.POINTER(_GeometryOptions),
                                  ctypes.POINTER(_h)]
_create_with_geometry.restype = ctypes.c_int


def _poses_array(name: str, values, rows: int) -> np.ndarray:
    """``values`` as a C-contiguous float64 array of shape (rows, 7)."""
    arr = np.ascontiguousarray(values, dtype=np.float64)
    if arr.shape != (rows, 7):
        raise InvalidArgumentError(f"{name} must have shape ({rows}, 7), got {arr.shape}", _INVALID_ARGUMENT)
    return arr


class UrdfModel:
    """A robot model read from a URDF file: links with all their visuals, meshes and joints.

    ``search_path`` lists directories for ``package://`` and relative mesh paths (then
    ``$ROS_PACKAGE_PATH`` unless ``use_ros_package_path=False``, then the URDF's directory and its
    parents). ``model_name`` renames the model in the segment (default: the robot's name).
    Immutable once loaded; one model can serve several writers.
    """

    def __init__(self, path, search_path: Sequence = (), use_ros_package_path: bool = True,
                 model_name: str | None = None):
        self._handle = None
        encoded_path = _check_text("path", os.fspath(path))
        dirs = [_check_text(f"search_path[{i}]", os.fspath(d)) for i, d in enumerate(search_path)]
        options = _UrdfOptions()
        _lib.fs_urdf_options_init(ctypes.byref(options))
        array = (ctypes.c_char_p * max(len(dirs), 1))(*dirs)
        options.search_path = array if dirs else None
        options.search_path_count = len(dirs)
        options.use_ros_package_path = 1 if use_ros_package_path else 0
        options.model_name = _check_text("model_name", model_name) if model_name else None
        handle = _h()
        _check(_lib.fs_urdf_load(encoded_path, ctypes.byref(options), ctypes.byref(handle)))
        self._handle = handle
        self.path = os.fspath(path)

        out = ctypes.c_char_p()
        _check(_lib.fs_urdf_name(handle, ctypes.byref(out)))
        #: The model's name in the segment.
        self.name: str = out.value.decode()
        count = ctypes.c_uint32()
        _check(_lib.fs_urdf_link_count(handle, ctypes.byref(count)))
        links = count.value
        _check(_lib.fs_urdf_dof(handle, ctypes.byref(count)))
        dof = count.value
        names = []
        for i in range(links):
            _check(_lib.fs_urdf_link_name(handle, i, ctypes.byref(out)))
            names.append(out.value.decode())
        #: Link names in link order (depth first from the root; the rows of a robot's poses).
        self.link_names: tuple[str, ...] = tuple(names)
        names = []
        for i in range(dof):
            _check(_lib.fs_urdf_joint_name(handle, i, ctypes.byref(out)))
            names.append(out.value.decode())
        #: Actuated joint names: the columns of joint positions.
        self.joint_names: tuple[str, ...] = tuple(names)
        lower, upper = np.zeros(dof), np.zeros(dof)
        _check(_lib.fs_urdf_joint_limits(handle, lower.ctypes.data, upper.ctypes.data))
        lower.flags.writeable = upper.flags.writeable = False
        #: Joint limits per column (a continuous joint: -pi..pi; none given: 0..0).
        self.lower, self.upper = lower, upper
        footprint = _Footprint()
        _check(_lib.fs_urdf_footprint_of(handle, ctypes.byref(footprint)))
        #: What a segment needs for this model: links, visuals, meshes, mesh_bytes.
        self.footprint = {"links": footprint.links, "visuals": footprint.visuals, "meshes": footprint.meshes,
                          "mesh_bytes": footprint.mesh_bytes}

    @property
    def link_count(self) -> int:
        return len(self.link_names)

    @property
    def dof(self) -> int:
        """Joint positions per robot."""
        return len(self.joint_names)

    def close(self) -> None:
        if self._handle:
            _lib.fs_urdf_destroy(self._handle)
            self._handle = None

    def __del__(self):
        if getattr(self, "_handle", None):
            self.close()

    def _live(self):
        if not self._handle:
            raise FleetscopeError(f"URDF model '{self.path}' is closed", 10)
        return self._handle

    def create_writer(self, name: str, robots: int, detect_changes: bool = True, epsilon: float = 1e-5,
                      replace_stale: bool = True, compress: bool = True) -> Writer:
        """A new :class:`fleetscope.Writer` with room for this model and ``robots`` robots of it
        (links, visuals, stored meshes), nothing more. The model is not added yet: use
        :meth:`spawn` (or :meth:`add_to`)."""
        robots = _check_int("robots", robots, 0, _U32[1] - 1)
        options = _WriterOptions()
        _lib.fs_writer_options_init(ctypes.byref(options))
        options.name = _check_text("segment name", name)
        options.max_robots = options.max_models = options.max_visuals = 0
        options.max_links = 1
        options.detect_changes = 1 if detect_changes else 0
        options.epsilon = fleetscope._check_float32("epsilon", epsilon, minimum=0.0)
        options.replace_stale = 1 if replace_stale else 0
        geometry = _GeometryOptions(0, 0, 0, 1 if compress else 0)
        _check(_lib.fs_urdf_reserve(self._live(), robots, ctypes.byref(options), ctypes.byref(geometry)))
        options.max_robots = max(options.max_robots, 1)
        handle = _h()
        _check(_create_with_geometry(ctypes.byref(options), None, ctypes.byref(geometry), ctypes.byref(handle)))
        return _adopt_writer(handle, name)

    def add_to(self, writer: Writer) -> int:
        """Stores the meshes in the writer's segment and adds the model; returns its model id."""
        out = ctypes.c_uint32()
        _check(_lib.fs_urdf_add_to_writer(self._live(), writer._live(), ctypes.byref(out)))
        return out.value

    def spawn(self, writer: Writer, count: int, prefix: str | None = None, model: int | None = None,
              spacing: float = 2.0, base_poses=None) -> "UrdfRobots":
        """Spawns ``count`` robots of this model in ``writer`` (adding the model first unless its
        id is given) named ``PREFIX0``, ``PREFIX1``, ... (default prefix: the model's name). Bases
        on a square grid ``spacing`` metres apart, or ``base_poses`` (count x 7)."""
        count = _check_int("count", count, 0, _U32[1])
        if model is None:
            model = self.add_to(writer)
        prefix = self.name if prefix is None else prefix
        ids = np.array([writer.spawn_robot(f"{prefix}{i}", model) for i in range(count)], dtype=np.uint32)
        if base_poses is None:
            columns = max(1, math.ceil(math.sqrt(count)))
            base_poses = np.zeros((count, 7))
            base_poses[:, 0] = (np.arange(count) % columns) * spacing
            base_poses[:, 1] = (np.arange(count) // columns) * spacing
            base_poses[:, 6] = 1.0
        return UrdfRobots(self, writer, model, ids, base_poses)

    def forward_kinematics(self, joint_positions, base_poses=None) -> np.ndarray:
        """Link poses in the world frame for N robots, shape (N, link_count, 7) float32, from
        ``joint_positions`` (N, dof) and ``base_poses`` (N, 7; default: every base at the origin)."""
        q = np.ascontiguousarray(joint_positions, dtype=np.float64)
        if q.ndim != 2 or q.shape[1] != self.dof:
            raise InvalidArgumentError(f"joint_positions must have shape (N, {self.dof}), got {q.shape}",
                                       _INVALID_ARGUMENT)
        n = q.shape[0]
        bases = None if base_poses is None else _poses_array("base_poses", base_poses, n)
        out = np.empty((n, self.link_count, 7), dtype=np.float32)
        _check(_lib.fs_urdf_forward_kinematics(self._live(), q.ctypes.data, n,
                                               None if bases is None else bases.ctypes.data, out.ctypes.data))
        return out


class UrdfRobots:
    """Robots of one :class:`UrdfModel` in one writer (from :meth:`UrdfModel.spawn`), with a base
    pose each. :meth:`fk` writes all their link poses from one (N, dof) array in one C call."""

    def __init__(self, model: UrdfModel, writer: Writer, model_id: int, robot_ids: np.ndarray, base_poses):
        self.model = model
        self.writer = writer
        self.model_id = model_id
        #: Writer robot ids, one per row of the joint positions.
        self.robot_ids = np.ascontiguousarray(robot_ids, dtype=np.uint32)
        self._bases = _poses_array("base_poses", base_poses, len(self.robot_ids))
        self._ids_ptr = self.robot_ids.ctypes.data
        self._bases_ptr = self._bases.ctypes.data

    def __len__(self) -> int:
        return len(self.robot_ids)

    @property
    def base_poses(self) -> np.ndarray:
        """The base poses (N, 7), x y z qx qy qz qw; a copy: set them with :meth:`set_base_poses`."""
        return self._bases.copy()

    def set_base_poses(self, poses) -> None:
        """Every robot's base pose at once, shape (N, 7)."""
        self._bases[:] = _poses_array("base_poses", poses, len(self.robot_ids))

    def set_base_pose(self, row: int, pose) -> None:
        """One robot's base pose (7 values); ``row`` is its index in :attr:`robot_ids`."""
        row = _check_int("row", row, 0, len(self.robot_ids) - 1)
        self._bases[row] = _poses_array("pose", np.reshape(pose, (1, -1)), 1)[0]

    def fk(self, joint_positions: np.ndarray) -> None:
        """Stages every robot's link poses from ``joint_positions``, shape (N, dof) (float64; other
        dtypes are converted), columns in ``model.joint_names`` order. One C call; publish with
        ``writer.publish``. NaN or infinity is refused and nothing is staged."""
        q = joint_positions
        if not (isinstance(q, np.ndarray) and q.dtype == np.float64 and q.flags.c_contiguous):
            q = np.ascontiguousarray(q, dtype=np.float64)
        if q.shape != (len(self.robot_ids), self.model.dof):
            raise InvalidArgumentError(f"joint_positions must have shape ({len(self.robot_ids)}, {self.model.dof}), "
                                       f"got {q.shape}", _INVALID_ARGUMENT)
        _check(_lib.fs_urdf_write_poses(self.model._handle, self.writer._handle, self._ids_ptr,
                                        len(self.robot_ids), q.ctypes.data, self._bases_ptr))


def _adopt_writer(handle, name: str) -> Writer:
    """A :class:`fleetscope.Writer` around a handle created here (with geometry options, which
    ``Writer.__init__`` does not take): the same state its constructor sets up."""
    writer = Writer.__new__(Writer)
    writer._handle = handle
    writer.name = name
    writer._links = {}
    writer._total = 0
    writer._tags = {}
    return writer
