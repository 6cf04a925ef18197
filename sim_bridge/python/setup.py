"""Puts the C ABI library into the fleetscope wheel (pyproject.toml holds the metadata).

The package is a ctypes layer over libfleetscope.so, which CMake builds; this file only copies a
built one in: $FLEETSCOPE_LIBRARY if set, else build/sim_bridge/ of this source tree. The wheel
is tagged py3-none-<platform>: it holds a native library but no CPython extension."""
import os

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

try:
    from setuptools.command.bdist_wheel import bdist_wheel  # setuptools >= 70.1
except ImportError:
    from wheel.bdist_wheel import bdist_wheel

SONAME = "libfleetscope.so.1"
SOURCE_TREE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def built_library() -> str:
    explicit = os.environ.get("FLEETSCOPE_LIBRARY")
    path = explicit or os.path.join(SOURCE_TREE, "build", "sim_bridge", SONAME)
    if not os.path.isfile(path):
        where = f"FLEETSCOPE_LIBRARY={explicit}" if explicit else os.path.normpath(path)
        raise SystemExit(f"fleetscope: no built library at {where}. Build it first "
                         "(cmake -S . -B build && cmake --build build --target fleetscope_c) or set "
                         "FLEETSCOPE_LIBRARY to a built libfleetscope.so.")
    return os.path.realpath(path)


class BuildPyWithLibrary(build_py):
    def run(self):
        super().run()
        # realpath above: the wheel gets the file itself, under the name the package loads.
        self.copy_file(built_library(), os.path.join(self.build_lib, "fleetscope", SONAME))


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True  # a native library inside: a platform wheel, installed to platlib


class PlatformWheel(bdist_wheel):
    def get_tag(self):
        return ("py3", "none", super().get_tag()[2])  # any CPython 3: ctypes, no extension ABI


setup(distclass=BinaryDistribution, cmdclass={"build_py": BuildPyWithLibrary, "bdist_wheel": PlatformWheel})
