#!/usr/bin/env python3
"""A grasp-data scheduler: rounds of grasp generation per object on K GPUs until every object
reaches its quota. Reports job rows and scalars to fleetscope and keeps a manifest.json.

Each GPU runs one round at a time for the object furthest from its quota that no other GPU is
working on. A round takes a few seconds, yields some grasps (saved as a .npy result file) or
fails (out of memory, diverged simulation) and is retried with a new seed. A finished round is
"pending" until the merge step folds it into the object's count ("merged").

manifest.json (written atomically: temp file + rename) holds, per object: target_count,
collected_count, completed_rounds, seeds_used, rounds (name, seed, gpu, started_at, finished_at,
result_path, merge_state, grasps) and failures (round, seed, gpu, error, retried).

Run:  PYTHONPATH=build/python python3 sim_bridge/examples/grasp_scheduler.py --seconds 60 --dir /tmp/grasp
"""
import argparse
import json
import os
import signal
import time

import numpy as np

import fleetscope

OBJECTS = [
    "ycb_002_master_chef_can", "ycb_003_cracker_box", "ycb_004_sugar_box", "ycb_005_tomato_soup_can",
    "ycb_006_mustard_bottle", "ycb_010_potted_meat_can", "ycb_011_banana", "ycb_019_pitcher_base",
    "ycb_024_bowl", "ycb_025_mug", "ycb_035_power_drill", "ycb_037_scissors",
]
ERRORS = ["CUDA out of memory", "simulation diverged", "no stable grasp found in budget"]
stop = False


def request_stop(*_):
    global stop
    stop = True


class Scheduler:
    def __init__(self, args, telemetry):
        self.args = args
        self.telemetry = telemetry
        self.rng = np.random.default_rng(args.seed)
        self.objects = {code: {"target_count": args.quota, "collected_count": 0, "completed_rounds": 0,
                               "seeds_used": [], "rounds": [], "failures": []}
                        for code in OBJECTS[:args.objects]}
        self.running = {}  # gpu -> (code, round dict, finishes_at)
        self.next_seed = args.seed * 100000 + 1
        self.failed_total = 0
        os.makedirs(os.path.join(args.dir, "rounds"), exist_ok=True)
        self.manifest = os.path.join(args.dir, "manifest.json")

    def report(self, code, gpu=-1):
        o = self.objects[code]
        running = any(c == code for c, _, _ in self.running.values())
        state = "done" if o["collected_count"] >= o["target_count"] else "running" if running else "queued"
        retried = sum(1 for f in o["failures"] if f["retried"])
        self.telemetry.job(code, target_count=o["target_count"], collected_count=o["collected_count"],
                           rounds_done=o["completed_rounds"], rounds_failed=len(o["failures"]), rounds_retried=retried,
                           gpu=gpu, last_seed=o["seeds_used"][-1] if o["seeds_used"] else 0, state=state)

    def write_manifest(self):
        doc = {"version": 1, "updated_at": time.time(), "gpus": self.args.gpus, "quota": self.args.quota,
               "objects": self.objects}
        tmp = self.manifest + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=1)
        os.replace(tmp, self.manifest)

    def start_rounds(self, now):
        busy = {code for code, _, _ in self.running.values()}
        for gpu in range(self.args.gpus):
            if gpu in self.running:
                continue
            candidates = [(o["collected_count"] - o["target_count"], code) for code, o in self.objects.items()
                          if code not in busy and o["collected_count"] < o["target_count"]]
            if not candidates:
                return
            _, code = min(candidates)
            o = self.objects[code]
            seed = self.next_seed
            self.next_seed += 1
            o["seeds_used"].append(seed)
            rnd = {"name": f"r{len(o['rounds']):04d}", "seed": seed, "gpu": gpu, "started_at": time.time(),
                   "finished_at": None, "result_path": None, "merge_state": "running", "grasps": 0}
            o["rounds"].append(rnd)
            duration = self.rng.uniform(1.5, 4.0) / self.args.speed
            self.running[gpu] = (code, rnd, now + duration)
            busy.add(code)
            self.report(code, gpu)

    def finish_rounds(self, now):
        changed = False
        for gpu, (code, rnd, finishes_at) in list(self.running.items()):
            if now < finishes_at:
                continue
            del self.running[gpu]
            o = self.objects[code]
            rnd["finished_at"] = time.time()
            if self.rng.random() < self.args.failure_rate:
                rnd["merge_state"] = "failed"
                o["failures"].append({"round": rnd["name"], "seed": rnd["seed"], "gpu": gpu,
                                      "error": str(self.rng.choice(ERRORS)), "retried": True})
                self.failed_total += 1
            else:
                grasps = int(self.rng.integers(20, 61))
                path = os.path.join("rounds", f"{code}_{rnd['name']}.npy")
                np.save(os.path.join(self.args.dir, path), self.rng.normal(size=(grasps, 7)).astype(np.float32))
                rnd.update(result_path=path, merge_state="pending", grasps=grasps)
            changed = True
            self.report(code, gpu)
        return changed

    def merge(self):
        """Folds finished rounds into their objects' counts (the merge step of the pipeline)."""
        merged = False
        for code, o in self.objects.items():
            for rnd in o["rounds"]:
                if rnd["merge_state"] == "pending":
                    rnd["merge_state"] = "merged"
                    o["collected_count"] = min(o["target_count"], o["collected_count"] + rnd["grasps"])
                    o["completed_rounds"] += 1
                    merged = True
                    self.report(code, rnd["gpu"])
        return merged

    def run(self):
        started = time.monotonic()
        for code in self.objects:
            self.report(code)
        self.write_manifest()
        last_scalars = started
        while not stop and (self.args.seconds <= 0 or time.monotonic() - started < self.args.seconds):
            now = time.monotonic()
            changed = self.merge()
            changed |= self.finish_rounds(now)
            self.start_rounds(now)
            if changed:
                self.write_manifest()
            if now - last_scalars >= 1.0:
                collected = sum(o["collected_count"] for o in self.objects.values())
                rounds = sum(o["completed_rounds"] for o in self.objects.values())
                self.telemetry.scalars_at(rounds, {"grasp/collected_total": collected,
                                                   "grasp/rounds_failed_total": self.failed_total,
                                                   "grasp/gpus_busy": len(self.running)})
                last_scalars = now
            time.sleep(0.05)
        return sum(o["collected_count"] for o in self.objects.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", default="grasp", help="segment name (default: grasp)")
    parser.add_argument("--dir", default="grasp-data", help="where manifest.json and round results go")
    parser.add_argument("--objects", type=int, default=12, help=f"how many objects (at most {len(OBJECTS)})")
    parser.add_argument("--gpus", type=int, default=3)
    parser.add_argument("--quota", type=int, default=400, help="grasps wanted per object")
    parser.add_argument("--failure-rate", type=float, default=0.15)
    parser.add_argument("--speed", type=float, default=1.0, help="round speed factor (2 = rounds twice as fast)")
    parser.add_argument("--seconds", type=float, default=0.0, help="run time; 0 = until SIGTERM/SIGINT")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not 1 <= args.objects <= len(OBJECTS) or args.gpus < 1 or args.quota < 1 or args.speed <= 0:
        parser.error("--objects, --gpus, --quota and --speed are out of range")
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    with fleetscope.TelemetryWriter(args.name) as telemetry:
        scheduler = Scheduler(args, telemetry)
        collected = scheduler.run()
        scheduler.write_manifest()
    print(f"grasp scheduler: {collected} grasps over {args.objects} objects, manifest {scheduler.manifest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
