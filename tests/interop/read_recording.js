// Reads a fleetscope recording with the reference MCAP reader (@mcap/core, both its indexed and
// its streaming reader, CRCs validated) and checks it against what the test writer
// (tests/e2e/test_writer.cpp, "geometry" mode) wrote:
//   node read_recording.js FILE.mcap SEGMENT ROBOTS LINKS
// Decodes the fleetscope messages from recording/FORMAT.md on its own (no fleetscope code), and
// checks: the channel set of the segment, message counts (statistics = indexed reader = stream
// reader), every pose equals the test writer's pattern for some frame at or after the message's
// frame, keyframes hold every link of every robot, the layout's robots, scalar values
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

// --- fleetscope message decoding (recording/FORMAT.md) ---------------------------------------
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

function decodePoses(bytes) {
  const c = new Cursor(bytes);
  const m = { frame: c.u64(), sim_time: c.f64(), publish_ns: c.u64(), generation: c.u64(), epoch: c.u64(), frames_lost: c.u64() };
  m.robots = [];
  let total = 0;
  for (let n = c.u32(); n > 0; --n) {
    const r = { slot: c.u32(), count: c.u32(), links: [], poses: [] };
    total += r.count;
    m.robots.push(r);
  }
  for (const r of m.robots) for (let i = 0; i < r.count; ++i) r.links.push(c.u16());
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
function stressFrame(pose, link) {
  const k = pose[0];
  if (!(k >= 0) || Math.floor(k) !== k) return -1;
  const angle = (k % 1000) * 0.001;
  const expected = [k, k + link, -k, 0, 0, Math.sin(angle), Math.cos(angle)].map(f32);
  for (let i = 0; i < 7; ++i) if (pose[i] !== expected[i]) return -1;
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
  let workers, jobs;
  const meshes = [];
  for await (const m of reader.readMessages()) {
    const topic = topics.get(m.channelId);
    counts.set(topic, (counts.get(topic) ?? 0) + 1);
    check(m.logTime >= lastTime, "messages not in log-time order");
    lastTime = m.logTime;
    const kind = topic.slice(segment.length + 1);
    if (kind === "layout") {
      layout = decodeLayout(m.data);
    } else if (kind === "poses" || kind === "keyframe") {
      check(layout !== undefined, "poses before the layout");
      const p = decodePoses(m.data);
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
          const k = stressFrame(r.poses[i], r.links[i]);
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

  Object.assign(summary, { messages: total, pose_messages: poseMessages, keyframes, poses_checked: posesChecked, scalars: scalarCount, failures });
  console.log(JSON.stringify(summary, (k, v) => (typeof v === "bigint" ? v.toString() : v)));
  process.exit(failures.length ? 1 : 0);
}

main().catch((e) => {
  console.error(`read_recording.js: ${e.stack ?? e}`);
  process.exit(1);
});
