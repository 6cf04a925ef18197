// Reads a fleetscope recording with the reference MCAP reader (@mcap/core, both its indexed and
// its streaming reader, CRCs validated) and checks it against what the test writer
// (tests/e2e/test_writer.cpp, "geometry" mode) wrote:
//   node read_recording.js FILE.mcap SEGMENT ROBOTS LINKS
// Decodes the fleetscope messages from ipc/recording/FORMAT.md on its own (no fleetscope code), and
// checks: the channel set of the segment, message counts (statistics = indexed reader = stream
// reader), every pose (quantised: decoded in order, with the prediction) equals the test writer's
// pattern for some frame at or after the message's frame (quantised: within the error bound of
// FORMAT.md "Quantised poses"), keyframes hold every link of every robot, the layout's robots, scalar values
// (value = 0.5 x step), tags, the worker and the job row. Prints a JSON summary; exits 1 on any
// mismatch.
"use strict";
const fs = require("fs");
const { McapIndexedReader, McapStreamReader } = require("@mcap/core");
const { decompress } = require("fzstd");

const [file, segment, robotsArg, linksArg] = process.argv.slice(2);
const ROBOTS = Number(robotsArg);
const LINKS = Number(linksArg);
const failures = [];
function check(cond, what) {
  if (!cond) failures.push(what);
}

const decompressHandlers = {
  zstd: (buffer, size) => {
    const out = decompress(buffer, new Uint8Array(Number(size)));
    if (out.byteLength !== Number(size)) throw new Error("zstd size mismatch");
    return out;
  },
};

// --- fleetscope message decoding (ipc/recording/FORMAT.md) ---------------------------------------
class Cursor {
  constructor(bytes) {
    this.v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.o = 0;
  }
  u8() { return this.v.getUint8(this.o++); }
  u16() { const x = this.v.getUint16(this.o, true); this.o += 2; return x; }
  u32() { const x = this.v.getUint32(this.o, true); this.o += 4; return x; }
  i32() { const x = this.v.getInt32(this.o, true); this.o += 4; return x; }
  u64() { const x = this.v.getBigUint64(this.o, true); this.o += 8; return x; }
  i64() { const x = this.v.getBigInt64(this.o, true); this.o += 8; return x; }
  f32() { const x = this.v.getFloat32(this.o, true); this.o += 4; return x; }
  f64() { const x = this.v.getFloat64(this.o, true); this.o += 8; return x; }
  str() {
    const n = this.u32();
    const s = Buffer.from(this.v.buffer, this.v.byteOffset + this.o, n).toString("utf8");
    this.o += n;
    return s;
  }
  done() { return this.o === this.v.byteLength; }
}

function visual(c) {
  const v = { link_name: c.str(), shape: c.u32() };
  v.dims = [c.f32(), c.f32(), c.f32()];
  v.scale = [c.f32(), c.f32(), c.f32()];
  v.offset_position = [c.f32(), c.f32(), c.f32()];
  v.offset_orientation = [c.f32(), c.f32(), c.f32(), c.f32()];
  v.rgba = [c.u8(), c.u8(), c.u8(), c.u8()];
  v.mesh_path = c.str();
  return v;
}

function decodeLayout(bytes) {
  const c = new Cursor(bytes);
  const m = { segment: c.str(), generation: c.u64(), writer_pid: c.i32(), flags: c.u32(), epoch: c.u64() };
  m.models = [];
  for (let n = c.u32(); n > 0; --n) {
    const model = { name: c.str(), links: [], visuals: [] };
    for (let l = c.u32(); l > 0; --l) model.links.push(visual(c));
    for (let v = c.u32(); v > 0; --v) model.visuals.push({ link: c.u32(), mesh: c.u32(), visual: visual(c) });
    m.models.push(model);
  }
  m.robots = [];
  for (let n = c.u32(); n > 0; --n) {
    m.robots.push({ slot: c.u32(), name: c.str(), model: c.u32(), link_count: c.u32(), spawn_id: c.u64() });
  }
  check(c.done(), "layout message has bytes left over");
  return m;
}

// The pose stream's prediction state of quantised poses (FORMAT.md "Quantised poses"): each
// link's last three quantised values; cleared at every layout, at a message with the reset flag
// (keyframes) and at an exact message. Messages are decoded in write order.
class PosePredictor {
  constructor() { this.links = new Map(); }
  reset() { this.links.clear(); }
  at(slot, link) {
    const key = slot * 65536 + link;
    let l = this.links.get(key);
    if (!l) this.links.set(key, (l = { h: [[], [], []], n: 0 }));
    return l;
  }
}

function varint(c) {
  let v = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    const b = c.u8();
    v += (b & 0x7f) * 2 ** shift;
    if (!(b & 0x80)) return v;
  }
  throw new Error("residual varint too long");
}

function predict(link, k, order, previous) {
  const n = Math.min(order, link.n);
  const h = link.h;
  if (n === 0) return previous ? previous[k] : 0;
  if (n === 1) return h[0][k];
  if (n === 2) return (2 * h[0][k] - h[1][k]) | 0;  // modulo 2^32, as int32
  return (3 * h[0][k] - 3 * h[1][k] + h[2][k]) | 0;
}

function decodePoses(bytes, predictor) {
  const c = new Cursor(bytes);
  const m = { frame: c.u64(), sim_time: c.f64(), publish_ns: c.u64(), generation: c.u64(), epoch: c.u64(), frames_lost: c.u64() };
  m.encoding = c.u8();  // format 2.0: 0 exact f32, 1 quantised
  check(m.encoding <= 1, `pose encoding ${m.encoding}`);
  m.robots = [];
  let total = 0;
  for (let n = c.u32(); n > 0; --n) {
    const r = { slot: c.u32(), count: c.u32(), links: [], poses: [] };
    total += r.count;
    m.robots.push(r);
  }
  for (const r of m.robots) for (let i = 0; i < r.count; ++i) r.links.push(c.u16());
  if (m.encoding === 0) {
    predictor.reset();
    // Byte planes: byte b of field k of pose i at (b * 7 + k) * total + i.
    const planes = new Uint8Array(c.v.buffer, c.v.byteOffset + c.o, total * 28);
    c.o += total * 28;
    const word = new DataView(new ArrayBuffer(4));
    let i = 0;
    for (const r of m.robots) {
      for (let j = 0; j < r.count; ++j, ++i) {
        const pose = [];
        for (let k = 0; k < 7; ++k) {
          for (let b = 0; b < 4; ++b) word.setUint8(b, planes[(b * 7 + k) * total + i]);
          pose.push(word.getFloat32(0, true));
        }
        r.poses.push(pose);
      }
    }
  } else {
    const flags = c.u8(), shift = c.u8(), bits = c.u8();
    const order = [];
    for (let k = 0; k < 7; ++k) order.push(c.u8());
    m.reset = (flags & 1) === 1;
    if (m.reset) predictor.reset();
    // Residuals, field-major (field k of pose i at k * total + i): 2-bit symbols min(z, 3), four
    // to a byte, then a varint of z - 3 for each symbol 3; z is the zigzagged residual.
    const count = total * 7;
    const symbols = new Uint8Array(c.v.buffer, c.v.byteOffset + c.o, Math.ceil(count / 4));
    c.o += symbols.length;
    const z = new Array(count);
    for (let j = 0; j < count; ++j) z[j] = (symbols[j >> 2] >> (2 * (j & 3))) & 3;
    for (let j = 0; j < count; ++j) if (z[j] === 3) z[j] = 3 + varint(c);
    const scale = 2 ** bits - 1;
    let i = 0, previous = null;
    for (const r of m.robots) {
      for (let j = 0; j < r.count; ++j, ++i) {
        const link = predictor.at(r.slot, r.links[j]);
        const v = [];
        for (let k = 0; k < 7; ++k) {
          const zz = z[k * total + i];
          const residual = (zz >>> 1) ^ -(zz & 1);  // un-zigzag (zz < 2^32)
          v.push((residual + predict(link, k, order[k], previous)) | 0);
        }
        link.h = [v, link.h[0], link.h[1]];
        link.n = Math.min(3, link.n + 1);
        previous = v;
        const norm = Math.sqrt(v[3] * v[3] + v[4] * v[4] + v[5] * v[5] + v[6] * v[6]);
        const pose = [0, 1, 2].map((k) => Math.fround(v[k] * 2 ** -shift));
        for (let k = 3; k < 7; ++k) pose.push(norm === 0 ? (k === 6 ? 1 : 0) : Math.fround(v[k] / norm));
        r.poses.push(pose);
      }
    }
    m.quantisation = { shift, bits };
  }
  check(c.done(), "pose message has bytes left over");
  return m;
}

function decodeScalars(bytes) {
  const c = new Cursor(bytes);
  const m = { lost: c.u64(), samples: [] };
  for (let n = c.u32(); n > 0; --n) m.samples.push({ tag: c.u32(), step: c.i64(), wall_ns: c.u64(), value: c.f64() });
  check(c.done(), "scalars message has bytes left over");
  return m;
}

function decodeTags(bytes) {
  const c = new Cursor(bytes);
  const m = { first: c.u32(), names: [] };
  for (let n = c.u32(); n > 0; --n) m.names.push(c.str());
  return m;
}

function decodeWorkers(bytes) {
  const c = new Cursor(bytes);
  const rows = [];
  for (let n = c.u32(); n > 0; --n) {
    rows.push({ worker_id: c.u32(), pid: c.i32(), host: c.str(), state: c.u32(), chunk_size: c.u32(), steps: c.u64(),
                steps_per_s: c.f64(), exec_s: c.f64(), ipc_s: c.f64(), restarts: c.u32(), start_ticks: c.u64(), heartbeat_ns: c.u64() });
  }
  return rows;
}

function decodeJobs(bytes) {
  const c = new Cursor(bytes);
  const rows = [];
  for (let n = c.u32(); n > 0; --n) {
    rows.push({ object_code: c.str(), target_count: c.u64(), collected_count: c.u64(), rounds_done: c.u32(), rounds_failed: c.u32(),
                rounds_retried: c.u32(), gpu: c.i32(), last_seed: c.u64(), state: c.u32(), updated_ns: c.u64() });
  }
  return rows;
}

// The test writer's pattern (tests/e2e/stress_pattern.hpp) as float32.
const f32 = Math.fround;
// The rotation angle between two quaternions (normalised; q and -q the same rotation).
function rotationBetween(a, b) {
  const na = Math.hypot(...a), nb = Math.hypot(...b);
  const x = a.map((v) => v / na);
  let y = b.map((v) => v / nb);
  if (x.reduce((s, v, i) => s + v * y[i], 0) < 0) y = y.map((v) => -v);
  const diff = Math.hypot(...x.map((v, i) => v - y[i])), sum = Math.hypot(...x.map((v, i) => v + y[i]));
  return 4 * Math.atan2(diff, sum);
}
// FORMAT.md "Quantised poses", error bound: half a grid step plus half an f32 ulp per position
// component; 2 asin(1/S) + 1e-6 radians per rotation.
function positionBound(q, value) {
  const half = 2 ** (-q.shift - 1);
  const mag = Math.abs(value) + half;
  return half + 2 ** (Math.floor(Math.log2(mag)) - 24);
}
// The stress pattern's frame number of a pose: bit for bit for exact poses, within the error
// bound for quantised ones; -1 if neither.
function stressFrame(pose, link, q) {
  const k = q ? Math.round(pose[0]) : pose[0];
  if (!(k >= 0) || Math.floor(k) !== k) return -1;
  const angle = (k % 1000) * 0.001;
  const expected = [k, k + link, -k, 0, 0, Math.sin(angle), Math.cos(angle)].map(f32);
  if (!q) {
    for (let i = 0; i < 7; ++i) if (pose[i] !== expected[i]) return -1;
    return k;
  }
  for (let i = 0; i < 3; ++i) if (Math.abs(pose[i] - expected[i]) > positionBound(q, expected[i])) return -1;
  if (rotationBetween(pose.slice(3), expected.slice(3)) > 2 * Math.asin(1 / (2 ** q.bits - 1)) + 1e-6) return -1;
  return k;
}

async function main() {
  const bytes = fs.readFileSync(file);
  const readable = {
    size: async () => BigInt(bytes.byteLength),
    read: async (offset, size) => new Uint8Array(bytes.buffer, bytes.byteOffset + Number(offset), Number(size)),
  };
  const reader = await McapIndexedReader.Initialize({ readable, decompressHandlers });
  const summary = { profile: reader.header.profile, channels: {}, counts: {}, chunks: reader.chunkIndexes.length };
  check(reader.header.profile === "fleetscope", `profile '${reader.header.profile}'`);
  const stats = reader.statistics;
  check(stats !== undefined, "no statistics record");

  const topics = new Map();
  for (const [id, ch] of reader.channelsById) {
    topics.set(id, ch.topic);
    summary.channels[ch.topic] = { id, encoding: ch.messageEncoding, schema: reader.schemasById.get(ch.schemaId)?.name };
    check(ch.messageEncoding === "fleetscope", `${ch.topic}: message encoding ${ch.messageEncoding}`);
    check(ch.metadata.get("segment") === segment, `${ch.topic}: metadata segment`);
  }
  const want = ["layout", "poses", "keyframe", "attributes", "meshes", "tags", "scalars", "workers", "jobs"].map((k) => `${segment}/${k}`);
  for (const t of want) check(Object.prototype.hasOwnProperty.call(summary.channels, t), `missing channel ${t}`);
  check(reader.channelsById.size === want.length, `${reader.channelsById.size} channels, expected ${want.length}`);
  check(Number(stats.channelCount) === want.length, "statistics channel count");

  // Every message through the indexed reader (log-time order).
  const counts = new Map();
  let layout;
  let lastTime = -1n;
  const tags = [];
  let scalarCount = 0, poseMessages = 0, keyframes = 0, posesChecked = 0, stepsSeen = new Set();
  let workers, jobs, quantisedMessages = 0;
  const meshes = [];
  const predictor = new PosePredictor();
  for await (const m of reader.readMessages()) {
    const topic = topics.get(m.channelId);
    counts.set(topic, (counts.get(topic) ?? 0) + 1);
    check(m.logTime >= lastTime, "messages not in log-time order");
    lastTime = m.logTime;
    const kind = topic.slice(segment.length + 1);
    if (kind === "layout") {
      layout = decodeLayout(m.data);
      predictor.reset();  // the pose stream's prediction restarts at every layout
    } else if (kind === "poses" || kind === "keyframe") {
      check(layout !== undefined, "poses before the layout");
      const p = decodePoses(m.data, predictor);
      if (p.encoding === 1) ++quantisedMessages;
      if (kind === "keyframe") {
        ++keyframes;
        check(p.robots.length === layout.robots.length, "keyframe misses robots");
        for (const r of p.robots) {
          const robot = layout.robots.find((x) => x.slot === r.slot);
          check(robot && r.links.length === robot.link_count, `keyframe robot ${r.slot} lacks links`);
        }
      } else {
        ++poseMessages;
      }
      for (const r of p.robots) {
        const robot = layout.robots.find((x) => x.slot === r.slot);
        if (!robot || robot.name === "world") continue;  // the static robot keeps its own poses
        for (let i = 0; i < r.links.length; ++i) {
          const k = stressFrame(r.poses[i], r.links[i], p.quantisation);
          // The test writer publishes its frame k as simulation time k. Robot blocks are written
          // before the frame record moves, so a pose may be one frame newer than its message.
          check(k >= 0, `pose of ${robot.name} link ${r.links[i]} in frame ${p.frame} is not the writer's pattern`);
          if (Number.isFinite(p.sim_time)) {
            check(k >= p.sim_time && k <= p.sim_time + 1, `pose of ${robot.name} link ${r.links[i]} at sim time ${p.sim_time} encodes ${k}`);
          }
          ++posesChecked;
        }
      }
    } else if (kind === "tags") {
      const t = decodeTags(m.data);
      check(t.first === tags.length, "tags out of order");
      tags.push(...t.names);
    } else if (kind === "scalars") {
      const s = decodeScalars(m.data);
      for (const x of s.samples) {
        check(tags[x.tag] === "test/value", `scalar tag ${x.tag}`);
        check(x.value === Number(x.step) * 0.5, `scalar step ${x.step} value ${x.value}`);
        stepsSeen.add(Number(x.step));
        ++scalarCount;
      }
    } else if (kind === "meshes") {
      check(layout === undefined, "a mesh after the layout that uses it");
      const c = new Cursor(m.data);
      const mesh = { generation: c.u64(), index: c.u32(), vertices: c.u32(), triangles: c.u32(), flags: c.u32() };
      mesh.first = [c.f32(), c.f32(), c.f32(), c.f32()];
      meshes.push(mesh);
    } else if (kind === "workers") {
      workers = decodeWorkers(m.data);
    } else if (kind === "jobs") {
      jobs = decodeJobs(m.data);
    }
  }
  for (const [id, topic] of topics) {
    const n = counts.get(topic) ?? 0;
    summary.counts[topic] = n;
    check(BigInt(n) === (stats.channelMessageCounts.get(id) ?? 0n), `${topic}: ${n} messages read, statistics say ${stats.channelMessageCounts.get(id)}`);
  }
  let total = 0;
  for (const n of counts.values()) total += n;
  check(BigInt(total) === stats.messageCount, `${total} messages read, statistics say ${stats.messageCount}`);

  // The layout: ROBOTS robots r0.. of a "stress" model with LINKS links, and the static "world".
  check(layout !== undefined, "no layout message");
  if (layout) {
    const names = layout.robots.map((r) => r.name).sort();
    const expected = [...Array(ROBOTS).keys()].map((i) => `r${i}`).concat(["world"]).sort();
    check(JSON.stringify(names) === JSON.stringify(expected), `robots ${names}`);
    const stress = layout.models.find((m) => m.name === "stress");
    check(stress && stress.links.length === LINKS, "stress model");
    const world = layout.models.find((m) => m.name === "world");
    check(world && world.visuals.length === 4 && world.visuals.some((v) => v.visual.shape === 5), "world model visuals");
    check(layout.segment === segment && (layout.flags & 3) === 3, "layout segment and flags");
  }
  check(poseMessages > 10 && keyframes >= 1 && posesChecked > 0, `pose messages ${poseMessages}, keyframes ${keyframes}`);
  // fleetscope-shm record quantises poses unless --exact.
  check(quantisedMessages === poseMessages + keyframes, `${quantisedMessages} quantised pose messages of ${poseMessages + keyframes}`);
  // The ring held records 16..79 when the recorder attached (capacity 64).
  check(scalarCount === 64 && stepsSeen.size === 64 && stepsSeen.has(79) && stepsSeen.has(16), `scalars ${scalarCount}`);
  // The writer's stored meshes: a tetrahedron, and a strip of 24 vertices with normals.
  check(meshes.length === 2 && meshes[0].index === 0 && meshes[0].vertices === 4 && meshes[0].triangles === 4 &&
        meshes[0].flags === 0 && Math.abs(meshes[0].first[3] - 0.2) < 1e-7 &&
        meshes[1].vertices === 24 && meshes[1].triangles === 22 && meshes[1].flags === 1, `meshes ${JSON.stringify(meshes, (k, v) => (typeof v === "bigint" ? v.toString() : v))}`);
  check(workers && workers.length === 1 && workers[0].host === "test" && workers[0].worker_id === 1 && workers[0].steps === 100n, "worker row");
  check(jobs && jobs.length === 1 && jobs[0].object_code === "test_object" && jobs[0].target_count === 10n, "job row");

  // The stream reader: the same messages, every chunk CRC validated.
  const stream = new McapStreamReader({ decompressHandlers, validateCrcs: true });
  stream.append(bytes);
  let streamed = 0, footer = false, dataEnd;
  for (let r; (r = stream.nextRecord()); ) {
    if (r.type === "Message") ++streamed;
    if (r.type === "Footer") footer = true;
    if (r.type === "DataEnd") dataEnd = r.dataSectionCrc;
  }
  check(stream.done(), "stream reader did not reach the end");
  check(footer, "stream reader saw no footer");
  check(BigInt(streamed) === stats.messageCount, `stream reader read ${streamed} messages`);
  check(dataEnd !== undefined && dataEnd !== 0, "data section CRC missing");

  Object.assign(summary, { messages: total, pose_messages: poseMessages, keyframes, poses_checked: posesChecked, quantised_messages: quantisedMessages, scalars: scalarCount, failures });
  console.log(JSON.stringify(summary, (k, v) => (typeof v === "bigint" ? v.toString() : v)));
  process.exit(failures.length ? 1 : 0);
}

main().catch((e) => {
  console.error(`read_recording.js: ${e.stack ?? e}`);
  process.exit(1);
});
