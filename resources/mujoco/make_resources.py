#!/usr/bin/env python3
"""Generated MuJoCo resources of fleetscope.

  make_resources.py terrain          writes terrain.bin next to this script (committed; rerun
                                     after changing terrain() below)
  make_resources.py humanoids OUT    writes OUT, 100 humanoids (the build writes
                                     build/resources/mujoco/humanoid100.xml)

- terrain.bin: the height field of fleet.xml in MuJoCo's custom format (int32 nrow, int32 ncol,
  then nrow*ncol float32 elevations, row-major). Deliberately asymmetric (a ramp along x, a bump
  near one corner), so that a flipped or transposed grid shows in the tests.
- humanoids: 100 humanoids on a 10 x 10 grid 2 m apart over a floor, the benchmark scene of
  fleetscope-mujoco (600 kB of XML, so generated rather than committed). The humanoid is MuJoCo's
  humanoid.xml (Copyright 2021 DeepMind Technologies Limited, Apache License 2.0), with names
  prefixed per copy ("humanoid07_torso") and without its cameras, lights and texture.
"""
import math
import pathlib
import struct
import sys

HERE = pathlib.Path(__file__).resolve().parent


def terrain(rows=12, cols=20):
    values = []
    for r in range(rows):
        for c in range(cols):
            x, y = c / (cols - 1), r / (rows - 1)
            bump = math.exp(-((x - 0.8) ** 2 + (y - 0.25) ** 2) / 0.02)
            values.append(0.45 * x + 0.15 * math.sin(6 * y) + 0.4 * bump)
    lo, hi = min(values), max(values)
    values = [(v - lo) / (hi - lo) for v in values]  # MuJoCo normalises to 0..1 itself; be explicit
    return struct.pack("<ii", rows, cols) + struct.pack("<%df" % len(values), *values)


HUMANOID = """\
    <body name="{p}torso" pos="{x} {y} 1.5" childclass="body">
      <freejoint name="{p}root"/>
      <geom name="{p}torso" fromto="0 -.07 0 0 .07 0" size=".07"/>
      <geom name="{p}upper_waist" fromto="-.01 -.06 -.12 -.01 .06 -.12" size=".06"/>
      <body name="{p}head" pos="0 0 .19">
        <geom name="{p}head" type="sphere" size=".09"/>
      </body>
      <body name="{p}lower_waist" pos="-.01 0 -.26">
        <geom name="{p}lower_waist" fromto="0 -.06 0 0 .06 0" size=".06"/>
        <joint name="{p}abdomen_z" pos="0 0 .065" axis="0 0 1" range="-45 45" class="big_stiff_joint"/>
        <joint name="{p}abdomen_y" pos="0 0 .065" axis="0 1 0" range="-75 30" class="big_joint"/>
        <body name="{p}pelvis" pos="0 0 -.165">
          <joint name="{p}abdomen_x" pos="0 0 .1" axis="1 0 0" range="-35 35" class="big_joint"/>
          <geom name="{p}butt" fromto="-.02 -.07 0 -.02 .07 0" size=".09"/>
          <body name="{p}right_thigh" pos="0 -.1 -.04">
            <joint name="{p}right_hip_x" axis="1 0 0" range="-25 5" class="big_joint"/>
            <joint name="{p}right_hip_z" axis="0 0 1" range="-60 35" class="big_joint"/>
            <joint name="{p}right_hip_y" axis="0 1 0" range="-110 20" class="big_stiff_joint"/>
            <geom name="{p}right_thigh" fromto="0 0 0 0 .01 -.34" size=".06"/>
            <body name="{p}right_shin" pos="0 .01 -.403">
              <joint name="{p}right_knee" pos="0 0 .02" axis="0 -1 0" range="-160 2"/>
              <geom name="{p}right_shin" fromto="0 0 0 0 0 -.3"  size=".049"/>
              <body name="{p}right_foot" pos="0 0 -.39">
                <joint name="{p}right_ankle_y" pos="0 0 .08" axis="0 1 0" range="-50 50" stiffness="6"/>
                <joint name="{p}right_ankle_x" pos="0 0 .04" axis="1 0 .5" range="-50 50" stiffness="3"/>
                <geom name="{p}right_right_foot" fromto="-.07 -.02 0 .14 -.04 0" size=".027"/>
                <geom name="{p}left_right_foot" fromto="-.07 0 0 .14  .02 0" size=".027"/>
              </body>
            </body>
          </body>
          <body name="{p}left_thigh" pos="0 .1 -.04">
            <joint name="{p}left_hip_x" axis="-1 0 0" range="-25 5" class="big_joint"/>
            <joint name="{p}left_hip_z" axis="0 0 -1" range="-60 35" class="big_joint"/>
            <joint name="{p}left_hip_y" axis="0 1 0" range="-110 20" class="big_stiff_joint"/>
            <geom name="{p}left_thigh" fromto="0 0 0 0 -.01 -.34" size=".06"/>
            <body name="{p}left_shin" pos="0 -.01 -.403">
              <joint name="{p}left_knee" pos="0 0 .02" axis="0 -1 0" range="-160 2"/>
              <geom name="{p}left_shin" fromto="0 0 0 0 0 -.3"  size=".049"/>
              <body name="{p}left_foot" pos="0 0 -.39">
                <joint name="{p}left_ankle_y" pos="0 0 .08" axis="0 1 0" range="-50 50" stiffness="6"/>
                <joint name="{p}left_ankle_x" pos="0 0 .04" axis="1 0 .5" range="-50 50" stiffness="3"/>
                <geom name="{p}left_left_foot" fromto="-.07 .02 0 .14 .04 0" size=".027"/>
                <geom name="{p}right_left_foot" fromto="-.07 0 0 .14 -.02 0" size=".027"/>
              </body>
            </body>
          </body>
        </body>
      </body>
      <body name="{p}right_upper_arm" pos="0 -.17 .06">
        <joint name="{p}right_shoulder1" axis="2 1 1"  range="-85 60"/>
        <joint name="{p}right_shoulder2" axis="0 -1 1" range="-85 60"/>
        <geom name="{p}right_upper_arm" fromto="0 0 0 .16 -.16 -.16" size=".04 .16"/>
        <body name="{p}right_lower_arm" pos=".18 -.18 -.18">
          <joint name="{p}right_elbow" axis="0 -1 1" range="-90 50" stiffness="0"/>
          <geom name="{p}right_lower_arm" fromto=".01 .01 .01 .17 .17 .17" size=".031"/>
          <body name="{p}right_hand" pos=".18 .18 .18">
            <geom name="{p}right_hand" type="sphere" size=".04" zaxis="1 1 1"/>
          </body>
        </body>
      </body>
      <body name="{p}left_upper_arm" pos="0 .17 .06">
        <joint name="{p}left_shoulder1" axis="2 -1 1" range="-60 85"/>
        <joint name="{p}left_shoulder2" axis="0 1 1"  range="-60 85"/>
        <geom name="{p}left_upper_arm" fromto="0 0 0 .16 .16 -.16" size=".04 .16"/>
        <body name="{p}left_lower_arm" pos=".18 .18 -.18">
          <joint name="{p}left_elbow" axis="0 -1 -1" range="-90 50" stiffness="0"/>
          <geom name="{p}left_lower_arm" fromto=".01 -.01 .01 .17 -.17 .17" size=".031"/>
          <body name="{p}left_hand" pos=".18 -.18 .18">
            <geom name="{p}left_hand" type="sphere" size=".04" zaxis="1 -1 1"/>
          </body>
        </body>
      </body>
    </body>
"""

MOTORS = [("abdomen_y", 40), ("abdomen_z", 40), ("abdomen_x", 40), ("right_hip_x", 40),
          ("right_hip_z", 40), ("right_hip_y", 120), ("right_knee", 80), ("right_ankle_x", 20),
          ("right_ankle_y", 20), ("left_hip_x", 40), ("left_hip_z", 40), ("left_hip_y", 120),
          ("left_knee", 80), ("left_ankle_x", 20), ("left_ankle_y", 20), ("right_shoulder1", 20),
          ("right_shoulder2", 20), ("right_elbow", 40), ("left_shoulder1", 20),
          ("left_shoulder2", 20), ("left_elbow", 40)]


def humanoids(count=100, columns=10, spacing=2.0):
    bodies, motors = [], []
    for i in range(count):
        p = "humanoid%02d_" % i
        x = (i % columns - (columns - 1) / 2) * spacing
        y = (i // columns - (count // columns - 1) / 2) * spacing
        bodies.append(HUMANOID.format(p=p, x=x, y=y))
        motors += ['    <motor name="%s%s" gear="%d" joint="%s%s"/>' % (p, j, g, p, j) for j, g in MOTORS]
    return """\
<!-- Generated by make_resources.py: do not edit. 100 copies of MuJoCo's humanoid (humanoid.xml,
     Copyright 2021 DeepMind Technologies Limited, Apache License 2.0), the benchmark scene of
     fleetscope-mujoco. -->
<mujoco model="100 humanoids">
  <!-- 2,700 degrees of freedom: MuJoCo 2.2's Newton solver keeps dense nv x nv matrices on its
       stack (about 480 MB here); CG with a sparse Jacobian runs in an 80 MB stack. -->
  <option timestep="0.005" jacobian="sparse" solver="CG"/>
  <size nconmax="1500" njmax="4500" nstack="10000000"/>
  <asset>
    <material name="body" rgba="0.8 0.6 .4 1"/>
    <material name="grid" rgba=".15 .25 .35 1"/>
  </asset>
  <default>
    <motor ctrlrange="-1 1" ctrllimited="true"/>
    <default class="body">
      <geom type="capsule" condim="1" friction=".7" solimp=".9 .99 .003" solref=".015 1" material="body"/>
      <joint type="hinge" damping=".2" stiffness="1" armature=".01" limited="true" solimplimit="0 .99 .01"/>
      <default class="big_joint">
        <joint damping="5" stiffness="10"/>
        <default class="big_stiff_joint">
          <joint stiffness="20"/>
        </default>
      </default>
    </default>
  </default>
  <worldbody>
    <geom name="floor" size="0 0 .05" type="plane" material="grid" condim="3"/>
    <light name="sun" directional="true" pos="0 0 20" dir="0 0 -1"/>
%s  </worldbody>
  <actuator>
%s
  </actuator>
</mujoco>
""" % ("".join(bodies), "\n".join(motors))


if __name__ == "__main__":
    if sys.argv[1:] == ["terrain"]:
        (HERE / "terrain.bin").write_bytes(terrain())
    elif len(sys.argv) == 3 and sys.argv[1] == "humanoids":
        out = pathlib.Path(sys.argv[2])
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(humanoids())
    else:
        sys.exit(__doc__)
