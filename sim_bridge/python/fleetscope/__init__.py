"""fleetscope: publish robot poses from Python into a fleetscope shared-memory segment.

A thin ctypes layer over the fleetscope C ABI (libfleetscope.so). Poses are NumPy arrays with
7 columns per link, ``x, y, z, qx, qy, qz, qw``; float64 and float32 are passed to C without a
Python-level loop. Every error raises :class:`FleetscopeError` (a subclass of ``ValueError``
for bad arguments) with the library's message.

Arguments are checked in Python before anything reaches C: an integer must be a whole number
(an ``int``, a NumPy integer or an integral float such as ``2.0``; not a ``bool``, ``1.5``, NaN
or infinity) inside the range of the C type it is passed as, and a string must not hold a NUL
byte (C would cut it there). Anything else raises :class:`InvalidArgumentError` naming the
argument and its allowed range; nothing is created or written.

Example::

    import numpy as np, fleetscope
    with fleetscope.Writer("demo", max_robots=10, max_links=8) as w:
        arm = w.add_model("arm", [fleetscope.Box((0.5, 0.4, 0.2)),
                                  fleetscope.Capsule(0.05, 0.3, offset=(0, 0, 0.2))])
        robot = w.spawn_robot("arm0", arm)
        poses = np.zeros((2, 7)); poses[:, 6] = 1.0
        w.set_robot_poses(robot, poses)
        w.publish(sim_time=0.0)

Segment format 1.3 adds planes, ellipsoids and meshes stored in the segment, any number of visuals
per link (:class:`Link`), static world geometry and per-robot colour and attributes::

    with fleetscope.Writer("scene", mesh_bytes=1 << 20) as w:
        part = w.add_mesh(vertices, triangles)  # (V, 3) float32, (T, 3) uint32
        world = w.add_model("world", [fleetscope.Plane(20, 20),
                                      fleetscope.Link("props", [fleetscope.Ellipsoid(0.3, 0.2, 0.1),
                                                                fleetscope.StoredMesh(part)])])
        w.spawn_static("world", world, np.array([[0, 0, 0, 0, 0, 0, 1]] * 2, dtype=float))
"""
from __future__ import annotations

import ctypes
import math
import operator
import os
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

__all__ = [
    "FleetscopeError", "InvalidArgumentError", "Writer", "TelemetryWriter", "SummaryWriter", "LinkVisual", "Link",
    "Box", "Sphere", "Cylinder", "Capsule", "Mesh", "Plane", "Ellipsoid", "StoredMesh", "InlineMesh",
    "abi_version",
    "WORKER_STATES", "JOB_STATES", "TRAINER_TILE_TAGS", "TRAINER_TIME_TAGS",
]

#: Worker states, as ``worker(state=...)`` takes them (names or their index).
WORKER_STATES = ("starting", "running", "stalled", "dead", "restarting", "stopped")
#: Job states, as ``job(state=...)`` takes them.
JOB_STATES = ("queued", "running", "done", "failed")
#: Tags the viewer's Trainer panel shows as tiles (their newest value), in its order.
TRAINER_TILE_TAGS = ("rollout/episodes_per_s", "rollout/env_steps_per_s", "rollout/episode_length_mean",
                     "rollout/reward_mean", "system/cpu_util_pct", "inference/batch_size", "inference/calls_per_s",
                     "train/update_time_s")
#: Tags the Trainer panel stacks into its time-per-iteration chart (seconds each).
TRAINER_TIME_TAGS = ("time/env_s", "time/update_s", "time/logging_s", "time/waiting_s")
_TELEMETRY_ONLY = 0xFFFFFFFF  # FS_TELEMETRY_ONLY: max_robots of a segment without robots
_NO_ROBOTS = object()  # what TelemetryWriter passes as max_robots; never a user's value
_I32 = (-2**31, 2**31 - 1)
_U32 = (0, 2**32 - 1)
_I64 = (-2**63, 2**63 - 1)
_U64 = (0, 2**64 - 1)
_FLOAT32_MAX = float(np.finfo(np.float32).max)

BOX, SPHERE, CYLINDER, CAPSULE, MESH = range(5)
#: Shapes of segment format 1.3: a finite plane, an ellipsoid, a mesh stored in the segment.
PLANE, ELLIPSOID, STORED_MESH = range(5, 8)
INLINE_MESH = STORED_MESH  # the C ABI's name (FS_SHAPE_INLINE_MESH)
_SHAPE_NAMES = ("BOX", "SPHERE", "CYLINDER", "CAPSULE", "MESH", "PLANE", "ELLIPSOID", "STORED_MESH")
_OK = 0
_INVALID_ARGUMENT = 1


class FleetscopeError(RuntimeError):
    """An error reported by the fleetscope library; ``status`` holds its code."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class InvalidArgumentError(FleetscopeError, ValueError):
    """A bad argument: wrong shape, dtype, unknown robot or model, bad name, out-of-range number."""


def _invalid(message: str) -> InvalidArgumentError:
    return InvalidArgumentError(message, _INVALID_ARGUMENT)


def _check_int(name: str, value, lo: int, hi: int, note: str = "") -> int:
    """``value`` as a Python int if it is a whole number in ``lo..hi`` (both included), else raises
    InvalidArgumentError. Takes ints, NumPy integers and integral floats; refuses bools, strings,
    non-integral floats, NaN and infinity. ``note`` follows the range in the message."""
    allowed = f"{name} must be an integer in {lo}..{hi}{note}"
    if isinstance(value, (bool, np.bool_)):
        raise _invalid(f"{allowed}, got {value!r} (a bool)")
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if not math.isfinite(number) or not number.is_integer():
            raise _invalid(f"{allowed}, got {number!r}")
        number = int(number)
    else:
        try:
            number = operator.index(value)
        except TypeError:
            raise _invalid(f"{allowed}, got {type(value).__name__} {value!r}") from None
    if not lo <= number <= hi:
        raise _invalid(f"{allowed}, got {number}")
    return number


def _check_int64_array(name: str, values) -> np.ndarray:
    """``values`` as a contiguous int64 array, checked without a Python loop: integer dtypes must fit
    int64, floats must be finite whole numbers within int64, anything else is refused."""
    lo, hi = _I64
    allowed = f"{name} must hold integers in {lo}..{hi}"
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError, OverflowError) as e:
        raise _invalid(f"{allowed}: {e}") from None
    kind = arr.dtype.kind
    if kind == "i":
        pass  # every signed dtype NumPy has fits int64
    elif kind == "u":
        # Compare as uint64: against a Python int NumPy would compare in float64, where 2**63 == 2**63-1.
        if arr.size and arr.max() > np.uint64(hi):
            raise _invalid(f"{allowed}, got {arr.max()} (dtype {arr.dtype})")
    elif kind == "f":
        with np.errstate(invalid="ignore"):
            bad = ~(np.isfinite(arr) & (arr == np.trunc(arr)) & (arr >= -2.0**63) & (arr < 2.0**63))
        if bad.any():
            first = np.flatnonzero(bad.ravel())[0]
            raise _invalid(f"{allowed}, got {arr.ravel()[first]!r} at index {first}")
    elif kind == "O":
        # Python ints beyond uint64, or a mix NumPy could not type: convert and compare back.
        try:
            converted = arr.astype(np.int64)
            same = bool(np.all(converted == arr))
        except (TypeError, ValueError, OverflowError):
            same = False
        if not same:
            try:
                found = f", got values from {arr.min()!r} to {arr.max()!r}"
            except (TypeError, ValueError):
                found = ", got values that are not all numbers"
            raise _invalid(f"{allowed}{found}")
        arr = converted
    else:
        raise _invalid(f"{allowed}, got an array of dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _check_step(step, value=None) -> int:
    """A scalar record's step: an integer in int64 (integral floats taken), else InvalidArgumentError
    saying so, and that step and value look swapped when the value is a whole number."""
    try:
        return _check_int("step", step, *_I64)
    except InvalidArgumentError as e:
        hint = ""
        if isinstance(step, (float, np.floating)) and value is not None and not isinstance(value, (bool, np.bool_)):
            try:
                whole = float(value).is_integer()
            except (TypeError, ValueError, OverflowError):
                whole = False
            if whole:
                hint = (f"; the order is scalar(tag, step, value): were step and value swapped? "
                        f"(SummaryWriter.add_scalar(tag, value, global_step) takes TensorBoard's order)")
        raise _invalid(f"{e}{hint}") from None


def _check_text(name: str, value) -> bytes:
    """``value`` encoded as UTF-8 for a C string; refuses non-str values and embedded NUL bytes,
    which C would silently cut the string at. Lengths are checked by the library."""
    if not isinstance(value, str):
        raise _invalid(f"{name} must be a str, got {type(value).__name__}")
    if "\0" in value:
        raise _invalid(f"{name} {value!r} contains a NUL byte")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise _invalid(f"{name} {value!r} is not valid UTF-8 text: {e.reason}") from None


def _check_float32(name: str, value, minimum: float | None = None) -> float:
    """``value`` as a float for a C ``float`` field: finite, within float32 range, ``>= minimum``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _invalid(f"{name} must be a number, got {type(value).__name__} {value!r}") from None
    low = -_FLOAT32_MAX if minimum is None else minimum
    if not (low <= number <= _FLOAT32_MAX):
        raise _invalid(f"{name} must be a finite number in {low:g}..{_FLOAT32_MAX:g}, got {number!r}")
    return number


_SONAME = "libfleetscope.so.1"


def _load_library() -> ctypes.CDLL:
    """The C ABI: $FLEETSCOPE_LIBRARY, else the library next to this file (the build tree's
    build/python, a wheel, or `cmake --install`'s link to the installed one), else the system
    loader's search (LD_LIBRARY_PATH, ld.so.cache), for a package installed apart from it."""
    path = os.environ.get("FLEETSCOPE_LIBRARY")
    if not path:
        here = os.path.dirname(os.path.abspath(__file__))
        path = next((os.path.join(here, name) for name in sorted(os.listdir(here))
                     if name.startswith("libfleetscope.so")), _SONAME)
    try:
        return ctypes.CDLL(path)
    except OSError as e:
        raise ImportError(f"cannot load the fleetscope library ({e}); build the project (cmake --build "
                          "build) and put build/python on PYTHONPATH, install it (cmake --install build), "
                          "or set FLEETSCOPE_LIBRARY") from None


class _WriterOptions(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("max_robots", ctypes.c_uint32),
                ("max_links", ctypes.c_uint32), ("max_models", ctypes.c_uint32),
                ("max_visuals", ctypes.c_uint32), ("detect_changes", ctypes.c_int), ("epsilon", ctypes.c_float),
                ("replace_stale", ctypes.c_int)]


class _LinkVisual(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("shape", ctypes.c_int32), ("dims", ctypes.c_float * 3),
                ("scale", ctypes.c_float * 3), ("offset_position", ctypes.c_float * 3),
                ("offset_orientation", ctypes.c_float * 4), ("rgba", ctypes.c_uint8 * 4),
                ("mesh_path", ctypes.c_char_p)]


class _Visual(ctypes.Structure):  # fs_visual
    _fields_ = [("link", ctypes.c_uint32), ("shape", ctypes.c_int32), ("dims", ctypes.c_float * 3),
                ("scale", ctypes.c_float * 3), ("offset_position", ctypes.c_float * 3),
                ("offset_orientation", ctypes.c_float * 4), ("rgba", ctypes.c_uint8 * 4),
                ("mesh_path", ctypes.c_char_p), ("mesh", ctypes.c_uint32)]


class _GeometryOptions(ctypes.Structure):  # fs_geometry_options
    _fields_ = [("max_visuals", ctypes.c_uint32), ("max_meshes", ctypes.c_uint32),
                ("mesh_bytes", ctypes.c_uint64), ("compress", ctypes.c_int)]


class _TelemetryOptions(ctypes.Structure):
    _fields_ = [("scalar_capacity", ctypes.c_uint32), ("max_tags", ctypes.c_uint32),
                ("max_workers", ctypes.c_uint32), ("max_jobs", ctypes.c_uint32)]


class _WorkerStatus(ctypes.Structure):
    _fields_ = [("worker_id", ctypes.c_uint32), ("pid", ctypes.c_int32), ("host", ctypes.c_char_p),
                ("state", ctypes.c_int32), ("chunk_size", ctypes.c_uint32), ("steps", ctypes.c_uint64),
                ("steps_per_s", ctypes.c_double), ("exec_s", ctypes.c_double), ("ipc_s", ctypes.c_double),
                ("restarts", ctypes.c_uint32)]


class _JobStatus(ctypes.Structure):
    _fields_ = [("object_code", ctypes.c_char_p), ("target_count", ctypes.c_uint64),
                ("collected_count", ctypes.c_uint64), ("rounds_done", ctypes.c_uint32),
                ("rounds_failed", ctypes.c_uint32), ("rounds_retried", ctypes.c_uint32),
                ("gpu", ctypes.c_int32), ("last_seed", ctypes.c_uint64), ("state", ctypes.c_int32)]


class _PublishStats(ctypes.Structure):
    _fields_ = [("frame", ctypes.c_uint64), ("dirty_links", ctypes.c_uint64),
                ("changed_robots", ctypes.c_uint32)]


_lib = _load_library()
_h = ctypes.c_void_p
_u32p = ctypes.POINTER(ctypes.c_uint32)
_dbl = ctypes.POINTER(ctypes.c_double)
_flt = ctypes.POINTER(ctypes.c_float)
for _name, _args in {
    "fs_writer_create": [ctypes.POINTER(_WriterOptions), ctypes.POINTER(_h)],
    "fs_writer_close": [_h],
    "fs_writer_add_model": [_h, ctypes.c_char_p, ctypes.POINTER(_LinkVisual), ctypes.c_size_t, _u32p],
    "fs_writer_spawn_robot": [_h, ctypes.c_char_p, ctypes.c_uint32, _u32p],
    "fs_writer_remove_robot": [_h, ctypes.c_uint32],
    "fs_writer_robot_link_count": [_h, ctypes.c_uint32, _u32p],
    "fs_writer_total_links": [_h, ctypes.POINTER(ctypes.c_uint64)],
    "fs_writer_set_robot_poses_f64": [_h, ctypes.c_uint32, _dbl, ctypes.c_size_t],
    "fs_writer_set_robot_poses_f32": [_h, ctypes.c_uint32, _flt, ctypes.c_size_t],
    "fs_writer_set_all_poses_f64": [_h, _dbl, ctypes.c_size_t],
    "fs_writer_set_all_poses_f32": [_h, _flt, ctypes.c_size_t],
    "fs_writer_publish": [_h, ctypes.c_double, ctypes.POINTER(_PublishStats)],
    "fs_writer_heartbeat": [_h],
    "fs_writer_create_with_telemetry": [ctypes.POINTER(_WriterOptions), ctypes.POINTER(_TelemetryOptions),
                                        ctypes.POINTER(_h)],
    "fs_writer_tag": [_h, ctypes.c_char_p, _u32p],
    "fs_writer_scalar_id": [_h, ctypes.c_uint32, ctypes.c_int64, ctypes.c_double],
    "fs_writer_scalars": [_h, ctypes.c_uint32, ctypes.POINTER(ctypes.c_int64), _dbl, ctypes.c_size_t],
    "fs_writer_worker": [_h, ctypes.POINTER(_WorkerStatus)],
    "fs_writer_job": [_h, ctypes.POINTER(_JobStatus)],
    "fs_writer_add_mesh": [_h, _flt, ctypes.c_size_t, _u32p, ctypes.c_size_t, _flt, _u32p],
    "fs_writer_add_model_visuals": [_h, ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t,
                                    ctypes.POINTER(_Visual), ctypes.c_size_t, _u32p],
    "fs_writer_spawn_static": [_h, ctypes.c_char_p, ctypes.c_uint32, _dbl, ctypes.c_size_t, _u32p],
    "fs_writer_set_robot_color": [_h, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint8)],
    "fs_writer_set_robot_attributes": [_h, ctypes.c_uint32, ctypes.c_int64, ctypes.c_int64, ctypes.c_double],
    "fs_writer_set_robot_episode": [_h, ctypes.c_uint32, ctypes.c_int64, ctypes.c_int64],
    "fs_writer_model_link_count": [_h, ctypes.c_uint32, _u32p],
}.items():
    _fn = getattr(_lib, _name)
    _fn.argtypes = _args
    _fn.restype = ctypes.c_int
# A function object of its own (CDLL's [] does not cache): other modules may declare the shared
# attribute's argtypes with their own structure classes.
_create_with_geometry = _lib["fs_writer_create_with_geometry"]
_create_with_geometry.argtypes = [ctypes.POINTER(_WriterOptions), ctypes.POINTER(_TelemetryOptions),
                                  ctypes.POINTER(_GeometryOptions), ctypes.POINTER(_h)]
_create_with_geometry.restype = ctypes.c_int
# A scalar record with a wall time of the caller's (SummaryWriter's ``walltime``); libraries
# without it record the current time.
try:
    _scalar_at_wall = _lib["fs_writer_scalar_id_wall"]
    _scalar_at_wall.argtypes = [_h, ctypes.c_uint32, ctypes.c_int64, ctypes.c_double, ctypes.c_uint64]
    _scalar_at_wall.restype = ctypes.c_int
except AttributeError:
    _scalar_at_wall = None
_lib.fs_writer_destroy.argtypes = [_h]
_lib.fs_writer_destroy.restype = None
_lib.fs_last_error.restype = ctypes.c_char_p
_lib.fs_abi_version.restype = ctypes.c_uint32
_lib.fs_writer_options_init.argtypes = [ctypes.POINTER(_WriterOptions)]
_lib.fs_writer_options_init.restype = None


def _check(status: int) -> None:
    if status != _OK:
        message = _lib.fs_last_error().decode("utf-8", "replace")
        cls = InvalidArgumentError if status == _INVALID_ARGUMENT else FleetscopeError
        raise cls(message, status)


def abi_version() -> tuple[int, int]:
    """The segment format version this library writes, as (major, minor)."""
    v = _lib.fs_abi_version()
    return v >> 16, v & 0xFFFF


@dataclass
class LinkVisual:
    """How one link looks: a primitive or a mesh, placed relative to the link frame.
    ``mesh`` is the id of a stored mesh (:meth:`Writer.add_mesh`) for ``STORED_MESH`` only."""
    shape: int
    dims: Sequence[float] = (0.1, 0.1, 0.1)
    offset: Sequence[float] = (0.0, 0.0, 0.0)
    orientation: Sequence[float] = (0.0, 0.0, 0.0, 1.0)
    color: Sequence[int] = (200, 200, 200, 255)
    name: str = ""
    mesh_path: str = ""
    scale: Sequence[float] = (1.0, 1.0, 1.0)
    mesh: int | None = None


@dataclass
class Link:
    """A link with any number of visuals (segment format 1.3), none included: a link without
    visuals still has a pose but nothing is drawn for it. The visuals' own ``name`` is ignored."""
    name: str
    visuals: Sequence[LinkVisual] = field(default_factory=list)


def Box(size, **kw) -> LinkVisual:
    """A box with edge lengths ``size = (x, y, z)``."""
    return LinkVisual(BOX, tuple(size), **kw)


def Sphere(radius, **kw) -> LinkVisual:
    return LinkVisual(SPHERE, (radius, 0.0, 0.0), **kw)


def Cylinder(radius, length, **kw) -> LinkVisual:
    """A cylinder along the link's local z axis."""
    return LinkVisual(CYLINDER, (radius, length, 0.0), **kw)


def Capsule(radius, length, **kw) -> LinkVisual:
    """A capsule along local z; ``length`` is the straight part between the caps."""
    return LinkVisual(CAPSULE, (radius, length, 0.0), **kw)


def Mesh(path, scale=(1.0, 1.0, 1.0), **kw) -> LinkVisual:
    """A mesh file (STL, OBJ or PLY) with a per-axis scale."""
    return LinkVisual(MESH, (0.0, 0.0, 0.0), mesh_path=str(path), scale=tuple(scale), **kw)


def Plane(size_x, size_y, **kw) -> LinkVisual:
    """A finite plane in the visual's x-y plane (normal +z) with full side lengths ``size_x``,
    ``size_y``, seen from both sides (format 1.3)."""
    return LinkVisual(PLANE, (size_x, size_y, 0.0), **kw)


def Ellipsoid(rx, ry, rz, **kw) -> LinkVisual:
    """An ellipsoid with radii ``rx``, ``ry``, ``rz`` along the visual's axes (format 1.3)."""
    return LinkVisual(ELLIPSOID, (rx, ry, rz), **kw)


def StoredMesh(mesh_id, scale=(1.0, 1.0, 1.0), **kw) -> LinkVisual:
    """A mesh stored in the segment (an id from :meth:`Writer.add_mesh`) with a per-axis scale
    (format 1.3)."""
    return LinkVisual(STORED_MESH, (0.0, 0.0, 0.0), scale=tuple(scale), mesh=mesh_id, **kw)


InlineMesh = StoredMesh  # the C ABI's name


def _fill_visual(out, visual: LinkVisual, where: str, max_shape: int, keep: list) -> None:
    """Checks ``visual`` and stores it in ``out`` (an fs_link_visual or fs_visual): shape in
    0..max_shape, numbers within float32, colour bytes, strings without NUL; ``mesh_path`` only
    for MESH and ``mesh`` only for STORED_MESH. ``keep`` holds the encoded strings for the call."""
    mesh_path = os.fspath(visual.mesh_path) if isinstance(visual.mesh_path, os.PathLike) else visual.mesh_path
    mesh_path = _check_text(f"{where} mesh_path", mesh_path) if mesh_path else None
    keep.append(mesh_path)
    shapes = ", ".join(_SHAPE_NAMES[:max_shape]) + " or " + _SHAPE_NAMES[max_shape]
    out.shape = shape = _check_int(f"{where} shape", visual.shape, BOX, max_shape, f" ({shapes})")
    out.dims = _floats(visual.dims, 3, "dims")
    out.scale = _floats(visual.scale, 3, "scale")
    out.offset_position = _floats(visual.offset, 3, "offset")
    out.offset_orientation = _floats(visual.orientation, 4, "orientation")
    color = tuple(visual.color)
    if len(color) not in (3, 4):
        raise InvalidArgumentError("color needs 3 or 4 integers in 0..255", _INVALID_ARGUMENT)
    color = tuple(_check_int(f"{where} color[{k}]", c, 0, 255) for k, c in enumerate(color))
    if len(color) == 3:
        color += (255,)
    out.rgba = (ctypes.c_uint8 * 4)(*color)
    if mesh_path is not None and shape != MESH:
        raise _invalid(f"{where} has a mesh_path but is not a MESH")
    out.mesh_path = mesh_path
    if shape == STORED_MESH:
        if visual.mesh is None:
            raise _invalid(f"{where} is a STORED_MESH without a mesh id (use StoredMesh(writer.add_mesh(...)))")
        out.mesh = _check_int(f"{where} mesh", visual.mesh, *_U32)
    elif visual.mesh is not None:
        raise _invalid(f"{where} has a mesh id but is not a STORED_MESH")


def _is_extended_shape(shape) -> bool:
    """Whether ``shape`` is one of the shapes of format 1.3 (which only fs_writer_add_model_visuals takes)."""
    try:
        _check_int("shape", shape, PLANE, STORED_MESH)
    except InvalidArgumentError:
        return False
    return True


def _state_index(state, names: Sequence[str], what: str) -> int:
    if isinstance(state, str):
        if state not in names:
            raise InvalidArgumentError(f"unknown {what} state '{state}'; use one of {', '.join(names)}",
                                       _INVALID_ARGUMENT)
        return names.index(state)
    try:
        return _check_int(f"{what} state", state, 0, len(names) - 1)
    except InvalidArgumentError:
        raise _invalid(f"unknown {what} state {state!r}; use one of {', '.join(names)} "
                       f"or an index in 0..{len(names) - 1}") from None


def _floats(values: Sequence[float], n: int, what: str):
    try:
        values = tuple(values)
    except TypeError:
        raise _invalid(f"{what} needs {n} numbers, got {type(values).__name__}") from None
    if len(values) != n:
        raise InvalidArgumentError(f"{what} needs {n} numbers, got {len(values)}", _INVALID_ARGUMENT)
    return (ctypes.c_float * n)(*(_check_float32(f"{what}[{k}]", v) for k, v in enumerate(values)))


class Writer:
    """The writing end of one pose segment. Not thread-safe: use it from one thread.

    ``Writer(name, max_robots, max_links, ...)`` creates ``/dev/shm/fleetscope.<name>`` (mode 0600).
    With ``detect_changes=True`` only links that moved by more than ``epsilon`` since their last
    publish are published, so a simulation can write every link every step.
    Use it as a context manager or call :meth:`close`; the segment is removed on close.

    With ``telemetry=True`` the segment also carries telemetry: :meth:`scalar`, :meth:`scalars`,
    :meth:`worker` and :meth:`job`. ``scalar_capacity`` (a power of two) bounds the scalar ring:
    the writer never waits, and a reader that falls behind loses the oldest records.

    Ranges: ``name`` is ``[A-Za-z0-9_.-]{1,47}`` (no NUL byte); ``max_robots`` is an integer in
    1..4294967294 (for a segment without robots use :class:`TelemetryWriter`); ``max_links``,
    ``max_models``, ``max_visuals``, ``scalar_capacity``, ``max_tags``, ``max_workers`` and
    ``max_jobs`` are integers in 1..4294967295 (the library then applies the format's tighter
    limits, e.g. at most 2**20 robots); ``epsilon`` is a finite number >= 0 within float32 range.

    Geometry (segment format 1.3) is reserved at creation: ``mesh_bytes`` (an integer in
    0..2**64-1, at most 2**33 by the format; 0: no stored meshes) for the data of
    :meth:`add_mesh`, ``max_meshes`` (1..65536) distinct stored meshes, ``max_geometry_visuals``
    (0..4194304; 0: ``max_visuals``) visuals over all models, and ``compress_meshes``
    (zstd, when that is smaller).
    """

    def __init__(self, name: str, max_robots: int = 128, max_links: int = 32, max_models: int = 16,
                 max_visuals: int = 1024, detect_changes: bool = False, epsilon: float = 1e-5,
                 replace_stale: bool = True, telemetry: bool = False, scalar_capacity: int = 16384,
                 max_tags: int = 256, max_workers: int = 256, max_jobs: int = 1024, mesh_bytes: int = 0,
                 max_meshes: int = 64, max_geometry_visuals: int = 0, compress_meshes: bool = True):
        self._handle = None
        # Everything is checked before the library is called: a bad argument creates nothing.
        encoded_name = _check_text("segment name", name)
        if max_robots is _NO_ROBOTS:
            robots = _TELEMETRY_ONLY
        else:
            robots = _check_int("max_robots", max_robots, 1, _TELEMETRY_ONLY - 1,
                                " (use TelemetryWriter for a segment without robots)")
        links = _check_int("max_links", max_links, 1, _U32[1])
        models = _check_int("max_models", max_models, 1, _U32[1])
        visuals = _check_int("max_visuals", max_visuals, 1, _U32[1])
        eps = _check_float32("epsilon", epsilon, minimum=0.0)
        capacities = (_check_int("scalar_capacity", scalar_capacity, 1, _U32[1]),
                      _check_int("max_tags", max_tags, 1, _U32[1]),
                      _check_int("max_workers", max_workers, 1, _U32[1]),
                      _check_int("max_jobs", max_jobs, 1, _U32[1]))
        geometry = _GeometryOptions(_check_int("max_geometry_visuals", max_geometry_visuals, 0, _U32[1],
                                               " (0: max_visuals)"),
                                    _check_int("max_meshes", max_meshes, 1, _U32[1]),
                                    _check_int("mesh_bytes", mesh_bytes, *_U64),
                                    1 if compress_meshes else 0)
        opts = _WriterOptions()
        _lib.fs_writer_options_init(ctypes.byref(opts))
        opts.name = encoded_name
        opts.max_robots, opts.max_links = robots, links
        opts.max_models, opts.max_visuals = models, visuals
        opts.detect_changes = 1 if detect_changes else 0
        opts.epsilon = eps
        opts.replace_stale = 1 if replace_stale else 0
        handle = _h()
        tel = ctypes.byref(_TelemetryOptions(*capacities)) if telemetry else None
        _check(_create_with_geometry(ctypes.byref(opts), tel, ctypes.byref(geometry), ctypes.byref(handle)))
        self._handle = handle
        self.name = name
        self._links: dict[int, int] = {}
        self._total = 0
        self._tags: dict[str, int] = {}

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        """Marks the segment closed and removes it. Further calls raise."""
        if self._handle:
            _lib.fs_writer_destroy(self._handle)
            self._handle = None

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        if getattr(self, "_handle", None):
            self.close()

    def _live(self):
        if not self._handle:
            raise FleetscopeError(f"writer '{self.name}' is closed", 10)
        return self._handle

    # -- models and robots -----------------------------------------------------------------------
    def add_model(self, name: str, links: Iterable[LinkVisual | Link]) -> int:
        """Describes a robot model once; returns its model id. Each entry of ``links`` is one link:
        a :class:`LinkVisual` (the link's one visual; the link takes its ``name``) or a
        :class:`Link` with any number of visuals, none included (format 1.3).

        ``name`` (at most 47 bytes) and each link's ``name`` (at most 31 bytes) and ``mesh_path``
        must not hold a NUL byte; ``shape`` is an integer in 0..7 (BOX..MESH, PLANE, ELLIPSOID,
        STORED_MESH); ``color`` is 3 or 4 integers in 0..255; ``dims``, ``scale``, ``offset`` and
        ``orientation`` are finite numbers within float32 range; a STORED_MESH visual's ``mesh`` is
        an id from :meth:`add_mesh` (0..4294967295), a MESH visual's ``mesh_path`` a file."""
        encoded_name = _check_text("model name", name)
        links = list(links)
        if not links:
            raise InvalidArgumentError("a model needs at least one link", _INVALID_ARGUMENT)
        for i, link in enumerate(links):
            if not isinstance(link, (LinkVisual, Link)):
                raise InvalidArgumentError(f"link {i} is not a LinkVisual or a Link", _INVALID_ARGUMENT)
        if any(isinstance(link, Link) or _is_extended_shape(link.shape) for link in links):
            return self._add_model_visuals(encoded_name, links)
        array = (_LinkVisual * len(links))()
        keep = []  # the encoded strings must outlive the call
        for i, link in enumerate(links):
            link_name = _check_text(f"link {i} name", link.name or f"link{i}")
            keep.append(link_name)
            array[i].name = link_name
            _fill_visual(array[i], link, f"link {i}", MESH, keep)
        out = ctypes.c_uint32()
        _check(_lib.fs_writer_add_model(self._live(), encoded_name, array, len(links), ctypes.byref(out)))
        return out.value

    def _add_model_visuals(self, encoded_name: bytes, links: list) -> int:
        """add_model for links with any number of visuals of any shape (fs_writer_add_model_visuals)."""
        names = (ctypes.c_char_p * len(links))()
        keep = []  # the encoded strings must outlive the call
        visuals = []
        for i, link in enumerate(links):
            if isinstance(link, Link):
                try:
                    link_visuals = list(link.visuals)
                except TypeError:
                    raise _invalid(f"link {i} visuals must be a sequence of LinkVisual, got "
                                   f"{type(link.visuals).__name__}") from None
                for j, visual in enumerate(link_visuals):
                    if not isinstance(visual, LinkVisual):
                        raise _invalid(f"link {i} visual {j} is not a LinkVisual")
                    visuals.append((i, f"link {i} visual {j}", visual))
            else:
                visuals.append((i, f"link {i}", link))
            names[i] = _check_text(f"link {i} name", link.name or f"link{i}")
            keep.append(names[i])
        array = (_Visual * max(len(visuals), 1))()
        for k, (link, where, visual) in enumerate(visuals):
            array[k].link = link
            _fill_visual(array[k], visual, where, STORED_MESH, keep)
        out = ctypes.c_uint32()
        _check(_lib.fs_writer_add_model_visuals(self._live(), encoded_name, names, len(links), array, len(visuals),
                                                ctypes.byref(out)))
        return out.value

    def add_mesh(self, vertices: np.ndarray, triangles: np.ndarray, normals: np.ndarray | None = None) -> int:
        """Stores a triangle mesh in the segment (format 1.3); returns its id for :func:`StoredMesh`.
        A mesh equal to one stored before returns that one's id: it is stored once.

        ``vertices`` is a NumPy array of shape (V, 3) of floats (metres, converted to float32),
        ``triangles`` one of shape (T, 3) of integers in 0..V-1 (vertex indices, counter-clockwise
        seen from outside), ``normals`` None or shape (V, 3) floats. V and T are at least 1 (at
        most 8388608 and 5000000); every number finite, positions within 100 km. The segment needs
        room: ``Writer(mesh_bytes=...)``."""
        v = self._as_mesh_array("vertices", vertices, np.float32)
        t = self._as_mesh_array("triangles", triangles, np.uint32)
        n = None if normals is None else self._as_mesh_array("normals", normals, np.float32)
        if n is not None and n.shape != v.shape:
            raise _invalid(f"add_mesh: normals must have the shape of vertices {v.shape}, got {n.shape}")
        out = ctypes.c_uint32()
        _check(_lib.fs_writer_add_mesh(self._live(), v.ctypes.data_as(_flt), v.shape[0], t.ctypes.data_as(_u32p),
                                       t.shape[0], None if n is None else n.ctypes.data_as(_flt), ctypes.byref(out)))
        return out.value

    @staticmethod
    def _as_mesh_array(what: str, values, dtype) -> np.ndarray:
        """``values`` as a contiguous (N, 3) array of ``dtype``: floats for float32 (values beyond
        its range are refused, not made infinite), integers in range for uint32 (checked without a
        Python loop)."""
        if not isinstance(values, np.ndarray):
            raise _invalid(f"add_mesh: {what} must be a NumPy array, got {type(values).__name__}")
        if values.ndim != 2 or values.shape[1] != 3 or values.shape[0] == 0:
            raise _invalid(f"add_mesh: {what} must have shape (N, 3) with N >= 1, got {values.shape}")
        kind = values.dtype.kind
        if dtype is np.float32:
            if kind not in "fiu":
                raise _invalid(f"add_mesh: {what} must hold floats, got dtype {values.dtype}")
            wide = values.astype(np.float64)
            with np.errstate(invalid="ignore"):
                bad = ~(np.abs(wide) <= _FLOAT32_MAX)  # NaN included
            if bad.any():
                row, column = divmod(int(np.flatnonzero(bad.ravel())[0]), 3)
                raise _invalid(f"add_mesh: {what}[{row}, {column}] is {wide[row, column]!r}: every value must be "
                               "finite and within float32 range")
        else:
            if kind not in "iu":
                raise _invalid(f"add_mesh: {what} must hold integers, got dtype {values.dtype}")
            if values.size and (values.min() < 0 or values.max() > _U32[1]):
                raise _invalid(f"add_mesh: {what} must hold integers in 0..{_U32[1]}, got values from "
                               f"{values.min()} to {values.max()}")
        return np.ascontiguousarray(values, dtype=dtype)

    def spawn_robot(self, name: str, model: int) -> int:
        """Adds a robot of a model; returns its robot id (never reused).

        ``name`` (at most 47 bytes) must not hold a NUL byte; ``model`` is a model id, an integer
        in 0..4294967295."""
        encoded_name = _check_text("robot name", name)
        model = _check_int("model", model, *_U32)
        out = ctypes.c_uint32()
        _check(_lib.fs_writer_spawn_robot(self._live(), encoded_name, model, ctypes.byref(out)))
        links = ctypes.c_uint32()
        _check(_lib.fs_writer_robot_link_count(self._handle, out.value, ctypes.byref(links)))
        self._links[out.value] = links.value
        self._total += links.value
        return out.value

    def spawn_static(self, name: str, model: int, poses: np.ndarray) -> int:
        """World geometry (floor, terrain, tables; format 1.3): a robot of ``model`` published once,
        now, at ``poses`` (a NumPy array of shape (link_count, 7), x y z qx qy qz qw) and never
        again. Returns its robot id. It is not among the rows :meth:`set_all_poses` takes, and
        setting its poses raises.

        ``name`` (at most 47 bytes) must not hold a NUL byte; ``model`` is a model id, an integer
        in 0..4294967295."""
        encoded_name = _check_text("robot name", name)
        model = _check_int("model", model, *_U32)
        links = ctypes.c_uint32()
        _check(_lib.fs_writer_model_link_count(self._live(), model, ctypes.byref(links)))
        arr = np.ascontiguousarray(self._as_poses(poses, links.value, f"static robot '{name}'"), dtype=np.float64)
        out = ctypes.c_uint32()
        _check(_lib.fs_writer_spawn_static(self._live(), encoded_name, model, arr.ctypes.data_as(_dbl),
                                           arr.shape[0], ctypes.byref(out)))
        self._links[out.value] = links.value
        self._statics().add(out.value)
        return out.value

    def _statics(self) -> set:
        # Created on first use: also for writers made without __init__ (fleetscope.urdf).
        return self.__dict__.setdefault("_static_robots", set())

    def set_robot_color(self, robot: int, rgba: Sequence[int] | None) -> None:
        """Draws every visual of the robot in ``rgba`` (3 or 4 integers in 0..255; 3: opaque)
        instead of its model's colours, or in its model's colours again with ``None``. Takes
        effect with the next :meth:`publish`. ``robot`` is a robot id, an integer in 0..4294967295."""
        robot = _check_int("robot", robot, *_U32)
        color = None
        if rgba is not None:
            try:
                values = tuple(rgba)
            except TypeError:
                raise _invalid(f"rgba must be 3 or 4 integers in 0..255 or None, got {type(rgba).__name__}") from None
            if len(values) not in (3, 4):
                raise _invalid(f"rgba must be 3 or 4 integers in 0..255, got {len(values)} values")
            values = tuple(_check_int(f"rgba[{k}]", c, 0, 255) for k, c in enumerate(values))
            color = (ctypes.c_uint8 * 4)(*(values + (255,) * (4 - len(values))))
        _check(_lib.fs_writer_set_robot_color(self._live(), robot, color))

    def set_robot_attributes(self, robot: int, worker: int | None = None, environment: int | None = None,
                             scalar: float | None = None) -> None:
        """Who produced the robot and the value it is coloured by (format 1.3), for the viewer:
        ``worker`` (a worker id, as in :meth:`worker`) and ``environment`` (an index in that
        worker) are integers in 0..4294967294 or None; ``scalar`` (e.g. the episode return) is a
        finite float or None. None leaves that attribute unset. Replaces the robot's previous
        attributes; takes effect with the next :meth:`publish`."""
        robot = _check_int("robot", robot, *_U32)
        worker = -1 if worker is None else _check_int("worker", worker, 0, _U32[1] - 1)
        environment = -1 if environment is None else _check_int("environment", environment, 0, _U32[1] - 1)
        if scalar is None:
            value = math.nan
        else:
            try:
                value = float(scalar)
            except (TypeError, ValueError):
                raise _invalid(f"scalar must be a finite number or None, got {type(scalar).__name__} {scalar!r}") from None
            if not math.isfinite(value):
                raise _invalid(f"scalar must be a finite number or None, got {value!r}")
        _check(_lib.fs_writer_set_robot_attributes(self._live(), robot, worker, environment, value))

    def set_robot_episode(self, robot: int, steps: int | None, episodes: int = 0) -> None:
        """The robot's episode progress (format 1.3), for the viewer: ``steps`` into its current
        episode and ``episodes`` it has finished, integers in 0..4294967295; ``steps=None`` unsets
        it. Keeps the worker, environment and scalar of :meth:`set_robot_attributes` (which keeps
        this in turn); takes effect with the next :meth:`publish`. ``robot`` is a robot id."""
        robot = _check_int("robot", robot, *_U32)
        steps = -1 if steps is None else _check_int("steps", steps, *_U32, " (None: unset)")
        episodes = _check_int("episodes", episodes, *_U32)
        _check(_lib.fs_writer_set_robot_episode(self._live(), robot, steps, episodes))

    def remove_robot(self, robot: int) -> None:
        """Removes a robot; ``robot`` is a robot id, an integer in 0..4294967295."""
        robot = _check_int("robot", robot, *_U32)
        _check(_lib.fs_writer_remove_robot(self._live(), robot))
        links = self._links.pop(robot)
        if robot in self._statics():
            self._statics().discard(robot)
        else:
            self._total -= links

    def link_count(self, robot: int) -> int:
        """The number of links of a robot; ``robot`` is a robot id, an integer in 0..4294967295."""
        robot = _check_int("robot", robot, *_U32)
        if robot not in self._links:
            raise InvalidArgumentError(f"unknown robot id {robot}", _INVALID_ARGUMENT)
        return self._links[robot]

    @property
    def total_links(self) -> int:
        """Rows that :meth:`set_all_poses` expects: every link of every robot (but static ones),
        in spawn order."""
        return self._total

    # -- poses -----------------------------------------------------------------------------------
    @staticmethod
    def _as_poses(poses, rows: int, what: str):
        if not isinstance(poses, np.ndarray):
            raise InvalidArgumentError(f"{what}: poses must be a NumPy array, got {type(poses).__name__}",
                                       _INVALID_ARGUMENT)
        if poses.dtype not in (np.float64, np.float32):
            raise InvalidArgumentError(f"{what}: poses must be float64 or float32, got {poses.dtype}",
                                       _INVALID_ARGUMENT)
        if poses.shape != (rows, 7):
            raise InvalidArgumentError(f"{what}: poses must have shape ({rows}, 7), got {poses.shape}",
                                       _INVALID_ARGUMENT)
        return np.ascontiguousarray(poses)

    def set_robot_poses(self, robot: int, poses: np.ndarray) -> None:
        """Stages one robot's link poses, shape (link_count, 7): x y z qx qy qz qw.

        ``robot`` is a robot id, an integer in 0..4294967295. NaN, infinity or values beyond
        float range are refused by the library and nothing of the call is staged."""
        robot = _check_int("robot", robot, *_U32)
        arr = self._as_poses(poses, self.link_count(robot), f"robot {robot}")
        if arr.dtype == np.float64:
            _check(_lib.fs_writer_set_robot_poses_f64(self._live(), robot, arr.ctypes.data_as(_dbl), arr.shape[0]))
        else:
            _check(_lib.fs_writer_set_robot_poses_f32(self._live(), robot, arr.ctypes.data_as(_flt), arr.shape[0]))

    def set_all_poses(self, poses: np.ndarray) -> None:
        """Stages every robot's poses at once, shape (total_links, 7), robots in spawn order."""
        arr = self._as_poses(poses, self._total, "set_all_poses")
        if arr.dtype == np.float64:
            _check(_lib.fs_writer_set_all_poses_f64(self._live(), arr.ctypes.data_as(_dbl), arr.shape[0]))
        else:
            _check(_lib.fs_writer_set_all_poses_f32(self._live(), arr.ctypes.data_as(_flt), arr.shape[0]))

    def publish(self, sim_time: float = 0.0) -> dict:
        """Publishes the links that moved since the last publish; returns frame statistics.
        ``sim_time`` is any float (a double in the segment)."""
        stats = _PublishStats()
        _check(_lib.fs_writer_publish(self._live(), float(sim_time), ctypes.byref(stats)))
        return {"frame": stats.frame, "dirty_links": stats.dirty_links, "changed_robots": stats.changed_robots}

    def heartbeat(self) -> None:
        """Tells readers the simulation is alive while it is not publishing."""
        _check(_lib.fs_writer_heartbeat(self._live()))

    # -- telemetry -------------------------------------------------------------------------------
    def _tag(self, tag: str) -> int:
        tag_id = self._tags.get(tag) if isinstance(tag, str) else None
        if tag_id is None:
            encoded = _check_text("tag", tag)
            out = ctypes.c_uint32()
            _check(_lib.fs_writer_tag(self._live(), encoded, ctypes.byref(out)))
            tag_id = self._tags[tag] = out.value
        return tag_id

    def scalar(self, tag: str, step: int, value: float) -> None:
        """Records one value of a scalar series, e.g. ``scalar("reward/mean", step, 12.5)``.

        ``tag`` is 1..63 bytes without a NUL byte; ``step`` is an integer in -2**63..2**63-1 (an
        integral float such as ``100.0`` is taken; ``0.53`` raises :class:`InvalidArgumentError`,
        which catches the TensorBoard order ``scalar(tag, value, step)``; :class:`SummaryWriter`
        takes that order); ``value`` is any float, NaN and infinity included. Tags the viewer's
        Trainer panel knows: see :class:`SummaryWriter`."""
        step = _check_step(step, value)
        value = float(value)
        _check(_lib.fs_writer_scalar_id(self._live(), self._tag(tag), step, value))

    def scalars(self, tag: str, steps, values) -> None:
        """Records many values of one series at once; ``steps`` and ``values`` are 1-D arrays
        (or sequences) of the same length, converted to int64 and float64 without a Python loop.

        Every step must be a whole number in -2**63..2**63-1 (a uint64 array above 2**63-1, a
        float array with 1.5, NaN or infinity is refused, checked vectorised); values are any
        floats. Nothing is recorded, and no tag added, when an argument is refused."""
        steps = _check_int64_array("steps", steps)
        values = np.ascontiguousarray(values, dtype=np.float64)
        if steps.ndim != 1 or values.shape != steps.shape:
            raise InvalidArgumentError(f"scalars: steps {steps.shape} and values {values.shape} must be 1-D "
                                       "and the same length", _INVALID_ARGUMENT)
        _check(_lib.fs_writer_scalars(self._live(), self._tag(tag),
                                      steps.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)),
                                      values.ctypes.data_as(_dbl), steps.shape[0]))

    def scalars_at(self, step: int, values: dict) -> None:
        """Records several series at one step: ``scalars_at(step, {"loss": 0.3, "lr": 3e-4})``.

        ``step`` is an integer in -2**63..2**63-1; tags and values as in :meth:`scalar`. The step,
        the tags and the values are all checked before the first record is written."""
        step = _check_step(step)
        records = [(tag, float(value)) for tag, value in values.items()]
        for tag, _ in records:
            if not isinstance(tag, str) or tag not in self._tags:
                _check_text("tag", tag)
        handle = self._live()
        for tag_id, value in [(self._tag(tag), value) for tag, value in records]:
            _check(_lib.fs_writer_scalar_id(handle, tag_id, step, value))

    def worker(self, worker_id: int, *, pid: int = 0, host: str = "", state="running", chunk_size: int = 0,
               steps: int = 0, steps_per_s: float = 0.0, exec_s: float = 0.0, ipc_s: float = 0.0,
               restarts: int = 0) -> None:
        """Inserts or updates the status row of one environment worker (keyed by ``worker_id``).
        Each call is a heartbeat; readers show a worker whose ``pid`` is gone as dead.

        Ranges: ``worker_id``, ``chunk_size`` and ``restarts`` are integers in 0..4294967295;
        ``pid`` is in 0..2147483647 (0: no process); ``steps`` is in 0..2**64-1; ``host`` is at
        most 31 bytes without a NUL byte; ``state`` is one of :data:`WORKER_STATES` or its index;
        ``steps_per_s``, ``exec_s`` and ``ipc_s`` are any floats."""
        status = _WorkerStatus(_check_int("worker_id", worker_id, *_U32),
                               _check_int("pid", pid, 0, _I32[1], " (0: no process)"),
                               _check_text("host", host),
                               _state_index(state, WORKER_STATES, "worker"),
                               _check_int("chunk_size", chunk_size, *_U32),
                               _check_int("steps", steps, *_U64),
                               float(steps_per_s), float(exec_s), float(ipc_s),
                               _check_int("restarts", restarts, *_U32))
        _check(_lib.fs_writer_worker(self._live(), ctypes.byref(status)))

    def job(self, object_code: str, *, target_count: int, collected_count: int = 0, rounds_done: int = 0,
            rounds_failed: int = 0, rounds_retried: int = 0, gpu: int = -1, last_seed: int = 0,
            state="queued") -> None:
        """Inserts or updates the progress row of one data-generation job (keyed by ``object_code``).

        Ranges: ``object_code`` is 1..47 bytes without a NUL byte; ``target_count``,
        ``collected_count`` and ``last_seed`` are integers in 0..2**64-1; ``rounds_done``,
        ``rounds_failed`` and ``rounds_retried`` are in 0..4294967295; ``gpu`` is in
        -1..2147483647 (-1: none); ``state`` is one of :data:`JOB_STATES` or its index."""
        status = _JobStatus(_check_text("object_code", object_code),
                            _check_int("target_count", target_count, *_U64),
                            _check_int("collected_count", collected_count, *_U64),
                            _check_int("rounds_done", rounds_done, *_U32),
                            _check_int("rounds_failed", rounds_failed, *_U32),
                            _check_int("rounds_retried", rounds_retried, *_U32),
                            _check_int("gpu", gpu, -1, _I32[1], " (-1: none)"),
                            _check_int("last_seed", last_seed, *_U64),
                            _state_index(state, JOB_STATES, "job"))
        _check(_lib.fs_writer_job(self._live(), ctypes.byref(status)))


class TelemetryWriter(Writer):
    """A segment with telemetry and no robots: for trainers, worker pools and schedulers.

    ``scalar_capacity`` (a power of two), ``max_tags``, ``max_workers`` and ``max_jobs`` are
    integers in 1..4294967295, then bounded by the format (see :class:`Writer`).

    Example::

        with fleetscope.TelemetryWriter("trainer") as t:
            for step in range(1000):
                t.scalars_at(step, {"reward/mean": r, "loss/policy": loss})

    The viewer's Trainer panel draws a chart for every tag, grouped by the part before the first
    ``/``; the tags it gives a tile or its time chart are listed under :class:`SummaryWriter`.
    A trainer written for TensorBoard uses :class:`SummaryWriter` instead.
    """

    def __init__(self, name: str, scalar_capacity: int = 16384, max_tags: int = 256, max_workers: int = 256,
                 max_jobs: int = 1024, replace_stale: bool = True):
        super().__init__(name, max_robots=_NO_ROBOTS, replace_stale=replace_stale, telemetry=True,
                         scalar_capacity=scalar_capacity, max_tags=max_tags, max_workers=max_workers,
                         max_jobs=max_jobs)


def _segment_name_for(log_dir: str) -> str:
    """A segment name for a TensorBoard log directory: characters outside ``[A-Za-z0-9_.-]``
    become ``_``, at most the last 47 of them."""
    cleaned = "".join(c if (c.isascii() and c.isalnum()) or c in "_.-" else "_" for c in log_dir)
    cleaned = cleaned.strip("_") or "runs"
    return cleaned[-47:].lstrip("_.") or "runs"


class SummaryWriter:
    """TensorBoard's ``SummaryWriter`` for scalars, over a telemetry-only segment: a trainer that
    logs with ``torch.utils.tensorboard`` (or ``tensorboardX``) switches with its import line::

        from fleetscope import SummaryWriter   # was: from torch.utils.tensorboard import SummaryWriter

        with SummaryWriter("trainer") as writer:
            for step in range(1000):
                writer.add_scalar("train/policy_loss", loss, step)
                writer.add_scalars("rollout", {"ep_return_mean": r, "ep_len_mean": n}, step)

    The segment is ``name`` when given, else ``log_dir`` made a segment name (``runs/exp1``:
    ``runs_exp1``; characters outside ``[A-Za-z0-9_.-]`` become ``_``, the last 47 kept), else
    TensorBoard's default ``runs/<date>_<host><comment>`` made one. Records reach readers (the
    viewer) as they are written: ``max_queue``, ``flush_secs``, ``filename_suffix`` and
    ``purge_step`` are taken for compatibility and have no effect. Only scalars are carried:
    histograms, images, text and graphs are not (their ``add_*`` methods do not exist).

    The viewer's Trainer panel draws a chart per tag, grouped by the part before the first ``/``
    (``train/...``, ``rollout/...``), and a smoothing slider; a tag written by more than 8 segments
    is drawn as their mean and min-max band. Tags it knows:

    - tiles (:data:`TRAINER_TILE_TAGS`, the newest value): ``rollout/episodes_per_s``,
      ``rollout/env_steps_per_s``, ``rollout/episode_length_mean``, ``rollout/reward_mean``,
      ``system/cpu_util_pct``, ``inference/batch_size``, ``inference/calls_per_s``,
      ``train/update_time_s`` (seconds; shown in ms);
    - the stacked time-per-iteration chart (:data:`TRAINER_TIME_TAGS`, seconds): ``time/env_s``,
      ``time/update_s``, ``time/logging_s``, ``time/waiting_s``.

    The demo's PPO trainer (``sim_bridge/examples/ppo_trainer.py``) also writes
    ``train/policy_loss``, ``train/value_loss``, ``train/entropy``, ``train/approx_kl``,
    ``train/clip_fraction``, ``train/learning_rate``, ``train/explained_variance``,
    ``train/action_std``, ``rollout/ep_return_mean``, ``rollout/ep_len_mean`` and
    ``rollout/success_rate``.

    Differences from TensorBoard: ``global_step`` must be an integer (an integral float is taken;
    ``0.5`` raises :class:`InvalidArgumentError`, which catches a call with value and step swapped);
    ``global_step=None`` records the tag's previous step plus one (0 for its first record), where
    TensorBoard records 0. Tags are 1..63 bytes. ``walltime`` (seconds since the epoch) needs a
    library with ``fs_writer_scalar_id_wall``; without it the record gets the current time and a
    warning says so once. ``scalar_capacity`` (a power of two) and ``max_tags`` size the segment
    (see :class:`TelemetryWriter`).
    """

    def __init__(self, log_dir: str | None = None, comment: str = "", purge_step: int | None = None,
                 max_queue: int = 10, flush_secs: int = 120, filename_suffix: str = "", *, name: str | None = None,
                 scalar_capacity: int = 16384, max_tags: int = 256, replace_stale: bool = True):
        if log_dir is None:
            import datetime
            import socket
            log_dir = os.path.join("runs", datetime.datetime.now().strftime("%b%d_%H-%M-%S") + "_" +
                                   socket.gethostname() + comment)
        self.log_dir = os.fspath(log_dir)
        self.name = name if name is not None else _segment_name_for(self.log_dir)
        self._writer = TelemetryWriter(self.name, scalar_capacity=scalar_capacity, max_tags=max_tags, max_workers=1,
                                       max_jobs=1, replace_stale=replace_stale)
        self._next_step: dict[str, int] = {}
        self._warned_walltime = False

    def get_logdir(self) -> str:
        """The ``log_dir`` given (or TensorBoard's default); the segment is :attr:`name`."""
        return self.log_dir

    @property
    def telemetry(self) -> TelemetryWriter:
        """The segment's :class:`TelemetryWriter` (for :meth:`TelemetryWriter.scalars` batches)."""
        return self._writer

    def _step(self, tag, global_step) -> int:
        if global_step is None:
            return self._next_step.get(tag, 0)
        try:
            return _check_int("global_step", global_step, *_I64)
        except InvalidArgumentError as e:
            raise _invalid(f"{e}; the order is add_scalar(tag, scalar_value, global_step)") from None

    def _wall_ns(self, walltime) -> int:
        if walltime is None:
            return 0
        try:
            seconds = float(walltime)
        except (TypeError, ValueError):
            raise _invalid(f"walltime must be seconds since the epoch, got {type(walltime).__name__} "
                           f"{walltime!r}") from None
        if not (math.isfinite(seconds) and 0 < seconds < 2**64 / 1e9):
            raise _invalid(f"walltime must be a finite number of seconds after the epoch, got {seconds!r}")
        if _scalar_at_wall is None:
            if not self._warned_walltime:
                import warnings
                warnings.warn("fleetscope.SummaryWriter: this libfleetscope cannot record a given walltime "
                              "(no fs_writer_scalar_id_wall); records get the current time", stacklevel=3)
                self._warned_walltime = True
            return 0
        # Whole seconds and the fraction apart: seconds * 1e9 in one float loses the last digits
        # (1700000000.25 s would become ...249999872 ns).
        whole = math.floor(seconds)
        return max(1, whole * 1_000_000_000 + round((seconds - whole) * 1e9))

    @staticmethod
    def _value(tag, scalar_value) -> float:
        try:
            return float(scalar_value)
        except (TypeError, ValueError) as e:
            raise _invalid(f"scalar_value of '{tag}' must be a number (a float, a NumPy or one-element torch "
                           f"scalar), got {type(scalar_value).__name__}: {e}") from None

    def _record(self, records, wall_ns: int) -> None:
        """Writes (tag, step, value) records, every tag checked first: all or nothing is recorded."""
        w = self._writer
        for tag, _, _ in records:
            if not isinstance(tag, str) or tag not in w._tags:
                _check_text("tag", tag)
        handle = w._live()
        ids = [w._tag(tag) for tag, _, _ in records]
        for tag_id, (tag, step, value) in zip(ids, records):
            if wall_ns:
                _check(_scalar_at_wall(handle, tag_id, step, value, wall_ns))
            else:
                _check(_lib.fs_writer_scalar_id(handle, tag_id, step, value))
            self._next_step[tag] = step + 1 if step < _I64[1] else step

    def add_scalar(self, tag: str, scalar_value, global_step: int | None = None, walltime: float | None = None,
                   new_style: bool = False, double_precision: bool = False) -> None:
        """Records ``scalar_value`` (a float, NumPy scalar or one-element tensor) of series ``tag`` at
        ``global_step``, stamped ``walltime`` (seconds since the epoch; default now). ``new_style``
        and ``double_precision`` are TensorBoard's and change nothing: values are float64."""
        step = self._step(tag, global_step)
        self._record([(tag, step, self._value(tag, scalar_value))], self._wall_ns(walltime))

    def add_scalars(self, main_tag: str, tag_scalar_dict: dict, global_step: int | None = None,
                    walltime: float | None = None) -> None:
        """Records several series at one step: ``tag_scalar_dict`` maps a name to a value, recorded
        as tag ``main_tag/name`` (TensorBoard writes each to a run directory of that name; here they
        share the segment and the Trainer panel groups them under ``main_tag``)."""
        if not isinstance(tag_scalar_dict, dict):
            raise _invalid(f"tag_scalar_dict must be a dict of name -> value, got {type(tag_scalar_dict).__name__}")
        records = []
        for key, value in tag_scalar_dict.items():
            tag = f"{main_tag}/{key}"
            records.append((tag, self._step(tag, global_step), self._value(tag, value)))
        self._record(records, self._wall_ns(walltime))

    def flush(self) -> None:
        """Records are in the segment as soon as they are written: a heartbeat only."""
        self._writer.heartbeat()

    def close(self) -> None:
        """Closes and removes the segment; further records raise :class:`FleetscopeError`."""
        self._writer.close()

    def __enter__(self) -> "SummaryWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
