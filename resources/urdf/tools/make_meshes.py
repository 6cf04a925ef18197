#!/usr/bin/env python3
"""Writes the meshes of the fleetscope URDF robots (resources/urdf/meshes/), once; the output is
committed. Deterministic: running it again rewrites the same bytes.

    python3 resources/urdf/tools/make_meshes.py [OUTPUT_DIR]

The files exercise what the URDF loader has to get right, each the way ROS tools export them:
  arm_link.dae    COLLADA, Z_UP, metres, two materials (sides and caps): a unit tapered octagonal
                  prism along +z, scaled per link in the URDF
  base_shell.dae  COLLADA, Z_UP, authored in centimetres (<unit meter="0.01">) with a node
                  translation: a chamfered chassis and a front bumper (two materials)
  wheel.obj       Wavefront OBJ without a material library, metres, axis along y
  palm.stl        ASCII STL, metres
  finger.stl      binary STL, millimetres (the URDF scales it by 0.001)
Only positions and triangles matter to fleetscope; normals are left to the viewer.
"""
import math
import os
import struct
import sys


def octagon_prism():
    """Tapered octagonal prism, z in [0, 1], radius 1 at z=0 and 0.8 at z=1 (sides), and the two
    caps (centre + ring), as (vertices, side triangles, cap triangles)."""
    n = 8
    verts = []
    for ring, (z, r) in enumerate(((0.0, 1.0), (1.0, 0.8))):
        for k in range(n):
            a = 2 * math.pi * (k + 0.5) / n
            verts.append((round(r * math.cos(a), 6), round(r * math.sin(a), 6), z))
    bottom_c, top_c = len(verts), len(verts) + 1
    verts += [(0.0, 0.0, 0.0), (0.0, 0.0, 1.0)]
    sides, caps = [], []
    for k in range(n):
        a, b = k, (k + 1) % n
        sides += [(a, b, n + b), (a, n + b, n + a)]
        caps += [(bottom_c, b, a), (top_c, n + a, n + b)]
    return verts, sides, caps


def chassis_cm():
    """Chamfered box 60 x 40 x 16 cm (z 0..16, chamfer from z 12), and a bumper 4 x 44 x 6 cm
    across the front (x 30..34, z 2..8)."""
    hx, hy, ix, iy = 30.0, 20.0, 27.0, 17.0
    v = [(-hx, -hy, 0.0), (hx, -hy, 0.0), (hx, hy, 0.0), (-hx, hy, 0.0),
         (-hx, -hy, 12.0), (hx, -hy, 12.0), (hx, hy, 12.0), (-hx, hy, 12.0),
         (-ix, -iy, 16.0), (ix, -iy, 16.0), (ix, iy, 16.0), (-ix, iy, 16.0)]
    t = [(0, 2, 1), (0, 3, 2), (8, 9, 10), (8, 10, 11)]
    for k in range(4):
        a, b = k, (k + 1) % 4
        t += [(a, b, 4 + b), (a, 4 + b, 4 + a), (4 + a, 4 + b, 8 + b), (4 + a, 8 + b, 8 + a)]
    bumper_v, bumper_t = box((32.0, 0.0, 5.0), (4.0, 44.0, 6.0))
    return (v, t), (bumper_v, bumper_t)


def box(centre, size):
    cx, cy, cz = centre
    hx, hy, hz = (s / 2 for s in size)
    v = [(cx + sx * hx, cy + sy * hy, cz + sz * hz)
         for sz in (-1, 1) for sy, sx in ((-1, -1), (-1, 1), (1, 1), (1, -1))]
    t = [(0, 2, 1), (0, 3, 2), (4, 5, 6), (4, 6, 7)]
    for k in range(4):
        a, b = k, (k + 1) % 4
        t += [(a, b, 4 + b), (a, 4 + b, 4 + a)]
    return v, t


def finger_mm():
    """A finger 10 x 15 mm in section, straight to z=30 mm, tapering to 4 x 15 mm at z=50 mm."""
    levels = ((0.0, 5.0), (30.0, 5.0), (50.0, 2.0))
    v = []
    for z, hx in levels:
        v += [(-hx, -7.5, z), (hx, -7.5, z), (hx, 7.5, z), (-hx, 7.5, z)]
    t = [(0, 2, 1), (0, 3, 2), (8, 9, 10), (8, 10, 11)]
    for lvl in range(2):
        base = 4 * lvl
        for k in range(4):
            a, b = base + k, base + (k + 1) % 4
            t += [(a, b, b + 4), (a, b + 4, a + 4)]
    return v, t


def wheel():
    """A wheel of radius 0.08 m and width 0.05 m, axis along y, 16 segments."""
    n, r, w = 16, 0.08, 0.05
    v = []
    for y in (-w / 2, w / 2):
        for k in range(n):
            a = 2 * math.pi * k / n
            v.append((round(r * math.cos(a), 6), y, round(r * math.sin(a), 6)))
    v += [(0.0, -w / 2, 0.0), (0.0, w / 2, 0.0)]
    t = []
    for k in range(n):
        a, b = k, (k + 1) % n
        t += [(a, n + a, n + b), (a, n + b, b), (2 * n, a, b), (2 * n + 1, n + b, n + a)]
    return v, t


def fmt(x):
    return f"{x:.6g}"


def write_dae(path, parts, unit_meter, unit_name, translate, up="Z_UP"):
    """parts: [(name, (r, g, b, a), vertices, triangles)], one material per part."""
    effects, materials, geometries, instances = [], [], [], []
    for name, rgba, verts, tris in parts:
        colour = " ".join(fmt(c) for c in rgba)
        effects.append(
            f'    <effect id="{name}-effect"><profile_COMMON><technique sid="common"><lambert>'
            f'<diffuse><color sid="diffuse">{colour}</color></diffuse>'
            f'</lambert></technique></profile_COMMON></effect>')
        materials.append(f'    <material id="{name}-material" name="{name}">'
                         f'<instance_effect url="#{name}-effect"/></material>')
        positions = " ".join(fmt(c) for vtx in verts for c in vtx)
        indices = " ".join(str(i) for tri in tris for i in tri)
        geometries.append(
            f'    <geometry id="{name}-mesh" name="{name}"><mesh>\n'
            f'      <source id="{name}-positions"><float_array id="{name}-positions-array" count="{3 * len(verts)}">'
            f'{positions}</float_array>\n'
            f'        <technique_common><accessor source="#{name}-positions-array" count="{len(verts)}" stride="3">'
            f'<param name="X" type="float"/><param name="Y" type="float"/><param name="Z" type="float"/>'
            f'</accessor></technique_common></source>\n'
            f'      <vertices id="{name}-vertices"><input semantic="POSITION" source="#{name}-positions"/></vertices>\n'
            f'      <triangles material="{name}-symbol" count="{len(tris)}">'
            f'<input semantic="VERTEX" source="#{name}-vertices" offset="0"/><p>{indices}</p></triangles>\n'
            f'    </mesh></geometry>')
        instances.append(
            f'        <instance_geometry url="#{name}-mesh"><bind_material><technique_common>'
            f'<instance_material symbol="{name}-symbol" target="#{name}-material"/>'
            f'</technique_common></bind_material></instance_geometry>')
    tx, ty, tz = translate
    text = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<COLLADA xmlns="http://www.collada.org/2005/11/COLLADASchema" version="1.4.1">\n'
        '  <asset><contributor><authoring_tool>fleetscope make_meshes.py</authoring_tool></contributor>'
        '<created>2024-01-01T00:00:00</created><modified>2024-01-01T00:00:00</modified>'
        f'<unit name="{unit_name}" meter="{unit_meter}"/><up_axis>{up}</up_axis></asset>\n'
        '  <library_effects>\n' + "\n".join(effects) + '\n  </library_effects>\n'
        '  <library_materials>\n' + "\n".join(materials) + '\n  </library_materials>\n'
        '  <library_geometries>\n' + "\n".join(geometries) + '\n  </library_geometries>\n'
        '  <library_visual_scenes><visual_scene id="Scene" name="Scene">\n'
        f'      <node id="body" name="body"><translate sid="location">{fmt(tx)} {fmt(ty)} {fmt(tz)}</translate>\n'
        + "\n".join(instances) + '\n      </node>\n'
        '  </visual_scene></library_visual_scenes>\n'
        '  <scene><instance_visual_scene url="#Scene"/></scene>\n'
        '</COLLADA>\n')
    with open(path, "w", newline="\n") as f:
        f.write(text)


def facet_normal(a, b, c):
    u = [b[i] - a[i] for i in range(3)]
    w = [c[i] - a[i] for i in range(3)]
    n = (u[1] * w[2] - u[2] * w[1], u[2] * w[0] - u[0] * w[2], u[0] * w[1] - u[1] * w[0])
    length = math.sqrt(sum(x * x for x in n)) or 1.0
    return tuple(x / length for x in n)


def write_stl_ascii(path, name, verts, tris):
    lines = [f"solid {name}"]
    for tri in tris:
        a, b, c = (verts[i] for i in tri)
        lines.append("  facet normal " + " ".join(fmt(x) for x in facet_normal(a, b, c)))
        lines.append("    outer loop")
        lines += ["      vertex " + " ".join(fmt(x) for x in p) for p in (a, b, c)]
        lines += ["    endloop", "  endfacet"]
    lines.append(f"endsolid {name}")
    with open(path, "w", newline="\n") as f:
        f.write("\n".join(lines) + "\n")


def write_stl_binary(path, verts, tris):
    header = b"fleetscope make_meshes.py binary STL".ljust(80, b" ")
    out = [header, struct.pack("<I", len(tris))]
    for tri in tris:
        a, b, c = (verts[i] for i in tri)
        out.append(struct.pack("<12fH", *facet_normal(a, b, c), *a, *b, *c, 0))
    with open(path, "wb") as f:
        f.write(b"".join(out))


def write_obj(path, verts, tris):
    lines = ["# fleetscope make_meshes.py"]
    lines += ["v " + " ".join(fmt(x) for x in v) for v in verts]
    lines += ["f " + " ".join(str(i + 1) for i in t) for t in tris]
    with open(path, "w", newline="\n") as f:
        f.write("\n".join(lines) + "\n")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "meshes")
    os.makedirs(out, exist_ok=True)
    verts, sides, caps = octagon_prism()
    write_dae(os.path.join(out, "arm_link.dae"),
              [("shell", (0.95, 0.55, 0.1, 1.0), verts, sides),
               ("caps", (0.25, 0.25, 0.28, 1.0), verts, caps)],
              unit_meter="1", unit_name="meter", translate=(0, 0, 0))
    (body_v, body_t), (bumper_v, bumper_t) = chassis_cm()
    write_dae(os.path.join(out, "base_shell.dae"),
              [("chassis", (0.3, 0.32, 0.36, 1.0), body_v, body_t),
               ("bumper", (0.95, 0.8, 0.1, 1.0), bumper_v, bumper_t)],
              unit_meter="0.01", unit_name="centimeter", translate=(0, 0, 4))
    write_obj(os.path.join(out, "wheel.obj"), *wheel())
    write_stl_ascii(os.path.join(out, "palm.stl"), "palm", *box((0.0, 0.0, 0.03), (0.05, 0.12, 0.06)))
    write_stl_binary(os.path.join(out, "finger.stl"), *finger_mm())


if __name__ == "__main__":
    main()
