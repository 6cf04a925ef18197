// Validates the Foxglove channels of a recording made with `fleetscope-shm record --foxglove`
// (ipc/recording/FORMAT.md "Foxglove channels") of the test writer (tests/e2e/test_writer.cpp,
// "geometry" mode):
//   node validate_foxglove.js FILE.mcap SEGMENT ROBOTS LINKS
// Reads the file with @mcap/core and checks:
// - the schemas: foxglove.SceneUpdate and foxglove.FrameTransforms stored with encoding jsonschema
//   and equal to npm @foxglove/schemas' JSON schemas; every message JSON-encoded;
// - every Foxglove message valid against its schema (ajv; the published schemas made strict: no
//   property they do not name), the scalars against the schema stored in the file;
// - counts: one FrameTransforms per recorded frame (the fleetscope poses channel's count, with the
//   same log and publish times), one SceneUpdate per keyframe, each deleting every entity and
//   adding one per link with visuals: ROBOTS x LINKS boxes plus the static "world"'s two links
//   with visuals (a plane, an ellipsoid and two stored meshes), ROBOTS + 1 robots in all;
// - SceneUpdate and transform timestamps = the message's publish time; transforms: parent
//   "world", every pose of a robot rN exactly (as f32) the pose the writer published (its
//   pattern, one frame per message), the FrameTransforms written with a keyframe holding every
//   link, every entity's frame transformed;
//   in a format 1.x file also equal to the fleetscope pose message of the same frame;
// - scalars: one topic per tag with the 64 records the writer's ring held (value = 0.5 x step).
// Prints a JSON summary; exits 1 on any mismatch.
"use strict";
const fs = require("fs");
const util = require("util");
const { McapIndexedReader } = require("@mcap/core");
const { decompress } = require("fzstd");
const Ajv = require("ajv");
const foxglove = require("@foxglove/schemas/jsonschema");

const [file, segment, robotsArg, linksArg] = process.argv.slice(2);
const ROBOTS = Number(robotsArg);
const LINKS = Number(linksArg);
const failures = [];
function check(cond, what) {
  if (!cond && failures.length < 50) failures.push(what);
  return cond;
}

// The published schemas, strict: an object schema with properties allows no others, so a field
// name we misspell fails even where the schema does not require it.
function strict(schema) {
  if (Array.isArray(schema)) return schema.map(strict);
  if (schema === null || typeof schema !== "object") return schema;
  const out = {};
  for (const [k, v] of Object.entries(schema)) out[k] = k === "properties" ? Object.fromEntries(Object.entries(v).map(([p, s]) => [p, strict(s)])) : strict(v);
  if (out.type === "object" && out.properties) out.additionalProperties = false;
  return out;
}
const ajv = new Ajv({ strict: false, allErrors: true });
const validators = {
  "foxglove.SceneUpdate": ajv.compile(strict(foxglove.SceneUpdate)),
  "foxglove.FrameTransforms": ajv.compile(strict(foxglove.FrameTransforms)),
};

// The test writer's pattern (tests/e2e/stress_pattern.hpp) as float32.
const f32 = Math.fround;
function expectedPose(k, link) {
  const angle = (k % 1000) * 0.001;
  return [k, k + link, -k, 0, 0, Math.sin(angle), Math.cos(angle)].map(f32);
}
function transformPose(t) {
  return [t.translation.x, t.translation.y, t.translation.z, t.rotation.x, t.rotation.y, t.rotation.z, t.rotation.w].map(f32);
}
const nsOf = (stamp) => BigInt(stamp.sec) * 1000000000n + BigInt(stamp.nsec);

// Format 1.x exact pose messages (ipc/recording/FORMAT.md "poses and keyframe"): slot -> link -> pose.
function decodePosesV1(bytes) {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 48;
  const n = v.getUint32(o, true);
  o += 4;
  const robots = [];
  let total = 0;
  for (let i = 0; i < n; ++i, o += 8) {
    robots.push({ slot: v.getUint32(o, true), count: v.getUint32(o + 4, true), links: [] });
    total += v.getUint32(o + 4, true);
  }
  for (const r of robots) for (let i = 0; i < r.count; ++i, o += 2) r.links.push(v.getUint16(o, true));
  const word = new DataView(new ArrayBuffer(4));
  const out = new Map();
  let i = 0;
  for (const r of robots) {
    const links = new Map();
    for (const link of r.links) {
      const pose = [];
      for (let k = 0; k < 7; ++k) {
        for (let b = 0; b < 4; ++b) word.setUint8(b, bytes[o + (b * 7 + k) * total + i]);
        pose.push(word.getFloat32(0, true));
      }
      links.set(link, pose);
      ++i;
    }
    out.set(r.slot, links);
  }
  return out;
}

async function main() {
  const bytes = fs.readFileSync(file);
  const readable = {
    size: async () => BigInt(bytes.byteLength),
    read: async (offset, size) => new Uint8Array(bytes.buffer, bytes.byteOffset + Number(offset), Number(size)),
  };
  const decompressHandlers = { zstd: (buffer, size) => decompress(buffer, new Uint8Array(Number(size))) };
  const reader = await McapIndexedReader.Initialize({ readable, decompressHandlers });
  const stats = reader.statistics;
  let major = 0;
  for await (const m of reader.readMetadata({ name: "fleetscope.recording" })) major = Number(m.metadata.get("version").split(".")[0]);

  // Channels and schemas.
  const byTopic = new Map();
  const channelValidators = new Map();
  const fleetscopeKinds = [];
  for (const [id, ch] of reader.channelsById) {
    byTopic.set(ch.topic, id);
    const kind = ch.metadata.get("kind") ?? "";
    check(ch.metadata.get("segment") === segment, `${ch.topic}: metadata segment`);
    if (!kind.startsWith("foxglove/")) {
      fleetscopeKinds.push(kind);
      continue;
    }
    const schema = reader.schemasById.get(ch.schemaId);
    check(ch.messageEncoding === "json", `${ch.topic}: message encoding ${ch.messageEncoding}`);
    check(schema && schema.encoding === "jsonschema", `${ch.topic}: schema encoding ${schema?.encoding}`);
    const stored = JSON.parse(Buffer.from(schema.data).toString("utf8"));
    if (schema.name === "foxglove.SceneUpdate" || schema.name === "foxglove.FrameTransforms") {
      const published = foxglove[schema.name.slice("foxglove.".length)];
      check(util.isDeepStrictEqual(stored, published), `${schema.name}: the stored schema is not @foxglove/schemas'`);
      channelValidators.set(id, validators[schema.name]);
    } else {
      check(schema.name === "fleetscope.Scalar" && kind === "foxglove/scalars", `${ch.topic}: schema ${schema.name}, kind ${kind}`);
      check(ch.topic === `${segment}/foxglove/scalars/${ch.metadata.get("tag")}`, `${ch.topic}: scalar topic and tag`);
      channelValidators.set(id, ajv.compile(strict(stored)));
    }
  }
  const sceneTopic = `${segment}/foxglove/scene`, tfTopic = `${segment}/foxglove/transforms`;
  const scalarTopic = `${segment}/foxglove/scalars/test/value`;
  for (const t of [sceneTopic, tfTopic, scalarTopic]) check(byTopic.has(t), `missing channel ${t}`);
  check(channelValidators.size === 3, `${channelValidators.size} Foxglove channels, expected 3`);
  check(fleetscopeKinds.length === 9, `the fleetscope channels: ${fleetscopeKinds}`);
  const count = (topic) => Number(stats.channelMessageCounts.get(byTopic.get(topic)) ?? 0n);

  // Every message, in log-time order.
  let validated = 0, scenes = 0, transformsMessages = 0, transformsChecked = 0, fullTransforms = 0, comparedWithPoses = 0;
  const framesSeen = new Set(); // child frames transformed so far
  const posesByTime = [];       // fleetscope poses messages: [logTime, publishTime, data]
  const tfByTime = [];          // FrameTransforms: [logTime, publishTime, message]
  const keyframeTimes = new Set();
  const steps = new Set();
  let scalarCount = 0;
  const totalLinks = ROBOTS * LINKS + 3; // and the world's ground, props and marker
  for await (const m of reader.readMessages()) {
    const ch = reader.channelsById.get(m.channelId);
    const kind = ch.metadata.get("kind");
    if (kind === "poses") posesByTime.push([m.logTime, m.publishTime, m.data]);
    if (kind === "keyframe") keyframeTimes.add(m.logTime);
    const validate = channelValidators.get(m.channelId);
    if (!validate) continue;
    let msg;
    try {
      msg = JSON.parse(Buffer.from(m.data).toString("utf8"));
    } catch (e) {
      check(false, `${ch.topic}: message ${m.sequence} is not JSON: ${e.message}`);
      continue;
    }
    if (!check(validate(msg), `${ch.topic} message ${m.sequence}: ${ajv.errorsText(validate.errors)}`)) continue;
    ++validated;
    if (ch.topic === tfTopic) {
      ++transformsMessages;
      tfByTime.push([m.logTime, m.publishTime, msg]);
      let k;
      for (const t of msg.transforms) {
        check(t.parent_frame_id === "world", `parent ${t.parent_frame_id}`);
        check(nsOf(t.timestamp) === m.publishTime, `transform timestamp ${nsOf(t.timestamp)} vs publish time ${m.publishTime}`);
        framesSeen.add(t.child_frame_id);
        const match = /^(.*)\/r(\d+)\/link(\d+)$/.exec(t.child_frame_id);
        if (!match || match[1] !== segment) {
          check(/^.*\/world\/(ground|props|marker)$/.test(t.child_frame_id), `child frame ${t.child_frame_id}`);
          continue;
        }
        const link = Number(match[3]);
        const pose = transformPose(t);
        k = k ?? pose[0];
        // One frame per message (a robot block may already hold the next frame's poses).
        check(pose[0] === k || pose[0] === k + 1, `frame ${pose[0]} in a message of frame ${k}`);
        check(util.isDeepStrictEqual(pose, expectedPose(pose[0], link)), `${t.child_frame_id}: ${pose} is not the pose the writer published`);
        ++transformsChecked;
      }
      if (msg.transforms.length === totalLinks) ++fullTransforms;
    } else if (ch.topic === sceneTopic) {
      ++scenes;
      check(keyframeTimes.has(m.logTime), "a SceneUpdate without its keyframe");
      check(msg.deletions.length === 1 && msg.deletions[0].type === 1, "SceneUpdate deletes every entity first");
      check(nsOf(msg.deletions[0].timestamp) === m.publishTime, "SceneUpdate deletion timestamp");
      const robots = new Set();
      let boxes = 0;
      for (const e of msg.entities) {
        const meta = Object.fromEntries(e.metadata.map((kv) => [kv.key, kv.value]));
        robots.add(meta.robot);
        check(e.frame_locked && e.lifetime.sec === 0 && e.lifetime.nsec === 0, `${e.id}: frame-locked, no lifetime`);
        check(nsOf(e.timestamp) === m.publishTime, `${e.id}: timestamp ${nsOf(e.timestamp)} vs publish time ${m.publishTime}`);
        check(e.frame_id === `${segment}/${e.id}`, `${e.id}: frame ${e.frame_id}`);
        check(framesSeen.has(e.frame_id), `${e.id}: frame ${e.frame_id} has no transform yet`);
        if (/^r\d+$/.test(meta.robot)) {
          check(e.cubes.length === 1 && e.cubes[0].size.x > 0, `${e.id}: a box`);
          ++boxes;
        } else if (meta.robot === "world" && e.id === "world/ground") {
          check(e.cubes.length === 1 && e.cubes[0].size.x === 10 && e.cubes[0].size.y === 10, "the world's plane");
        } else if (meta.robot === "world" && e.id === "world/props") {
          const sphere = e.spheres[0];
          check(e.spheres.length === 1 && f32(sphere.size.x) === f32(0.6) && f32(sphere.size.z) === f32(0.2) &&
                f32(sphere.color.a) === f32(128 / 255), "the world's ellipsoid");
          check(e.triangles.length === 2 && e.triangles[0].points.length === 4 && e.triangles[0].indices.length === 12 &&
                f32(e.triangles[0].points[1].x) === f32(0.4) && e.triangles[1].points.length === 24 &&
                e.triangles[1].indices.length === 66 && e.triangles[1].pose.position.z === 1, "the world's stored meshes");
        } else {
          check(false, `unexpected entity ${e.id}`);
        }
      }
      check(robots.size === ROBOTS + 1, `SceneUpdate robots ${[...robots]}`);
      check(boxes === ROBOTS * LINKS && msg.entities.length === ROBOTS * LINKS + 2, `SceneUpdate entities ${msg.entities.length}`);
    } else {
      ++scalarCount;
      check(Number.isInteger(msg.step) && msg.value === msg.step * 0.5, `scalar step ${msg.step} value ${msg.value}`);
      check(msg.wall_time > 1.5e9 && msg.wall_time < 4e9, `scalar wall time ${msg.wall_time}`);
      steps.add(msg.step);
    }
  }

  // Counts: one FrameTransforms per recorded frame, written with the pose message of that frame.
  check(transformsMessages === count(`${segment}/poses`) && transformsMessages > 10, `${transformsMessages} FrameTransforms, ${count(`${segment}/poses`)} frames`);
  check(tfByTime.length === posesByTime.length, "FrameTransforms and poses messages");
  for (let i = 0; i < Math.min(tfByTime.length, posesByTime.length); ++i) {
    check(tfByTime[i][0] === posesByTime[i][0] && tfByTime[i][1] === posesByTime[i][1], `FrameTransforms ${i}: times differ from frame ${i}'s`);
    // A format 1.x file stores exact f32 poses: each transform is the recorded pose of that frame.
    if (major === 1) {
      const recorded = decodePosesV1(posesByTime[i][2]);
      for (const t of tfByTime[i][2].transforms) {
        const match = /\/r(\d+)\/link(\d+)$/.exec(t.child_frame_id);
        if (!match) continue;
        const pose = recorded.get(Number(match[1]))?.get(Number(match[2]));  // rN has slot N
        if (pose === undefined) continue;  // a keyframe's transform of a link that did not change
        check(util.isDeepStrictEqual(transformPose(t), pose), `${t.child_frame_id}: ${transformPose(t)} vs recorded ${pose}`);
        ++comparedWithPoses;
      }
    }
  }
  check(major !== 1 || comparedWithPoses > 0, "no transform compared with a recorded pose");
  check(scenes === count(`${segment}/keyframe`) && scenes >= 1, `${scenes} SceneUpdates, ${count(`${segment}/keyframe`)} keyframes`);
  check(fullTransforms >= scenes, `${fullTransforms} FrameTransforms with every link, ${scenes} keyframes`);
  check(transformsChecked > 0, "no transform checked");
  check(scalarCount === 64 && steps.size === 64 && steps.has(16) && steps.has(79) && count(scalarTopic) === 64, `scalars ${scalarCount}`);

  const summary = { format_major: major, validated, scene_updates: scenes, frame_transforms: transformsMessages, full_frame_transforms: fullTransforms,
                    transforms_checked: transformsChecked, compared_with_recorded_poses: comparedWithPoses, scalars: scalarCount, failures };
  console.log(JSON.stringify(summary));
  process.exit(failures.length ? 1 : 0);
}

main().catch((e) => {
  console.error(`validate_foxglove.js: ${e.stack ?? e}`);
  process.exit(1);
});
