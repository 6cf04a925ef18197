#!/usr/bin/env python3
"""A pool of environment worker processes, reported to fleetscope as worker status rows.

One process per environment (multiprocessing). The pool sends each worker a chunk of actions
over a pipe; the worker steps its environment (NumPy work), writes the observations into a
shared-memory array and replies with its execution time. The pool measures the round trip, so
IPC time = round trip - execution time. One worker stalls now and then (stops replying for a
few seconds) and one crashes now and then (the pool sees it die, reports it dead, restarts it).

Run:  PYTHONPATH=build/python python3 sim_bridge/examples/env_pool.py --workers 8 --seconds 30
"""
import argparse
import multiprocessing as mp
import os
import signal
import socket
import time
from multiprocessing import connection, shared_memory

import numpy as np

import fleetscope

OBS_DIM = 64
stop = False


def request_stop(*_):
    global stop
    stop = True


def worker_main(index, pipe, shm_name, chunk, step_s, stall_every, stall_s, crash_every, seed):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the pool decides when workers stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    shm = shared_memory.SharedMemory(name=shm_name)
    obs = np.ndarray((chunk, OBS_DIM), dtype=np.float32, buffer=shm.buf, offset=index * chunk * OBS_DIM * 4)
    rng = np.random.default_rng(seed)
    state = rng.normal(size=(OBS_DIM, OBS_DIM))
    born = time.monotonic()
    next_stall = born + stall_every if stall_every > 0 else float("inf")
    crash_at = born + crash_every * rng.uniform(0.7, 1.3) if crash_every > 0 else float("inf")
    try:
        while True:
            actions = pipe.recv()
            if actions is None:
                break
            t0 = time.perf_counter()
            work = int(rng.integers(2, 7))  # environments differ in cost
            x = actions[:, :OBS_DIM] if actions.shape[1] >= OBS_DIM else np.resize(actions, (len(actions), OBS_DIM))
            for _ in range(work):
                x = np.tanh(x @ state)
            obs[:] = x
            time.sleep(step_s * chunk * work / 4)  # the physics engine's share of the step
            now = time.monotonic()
            if now >= crash_at:
                os.kill(os.getpid(), signal.SIGKILL)  # a crash: no goodbye, no cleanup
            if now >= next_stall:
                time.sleep(stall_s)  # a stall: the pool hears nothing meanwhile
                next_stall = time.monotonic() + stall_every
            pipe.send(time.perf_counter() - t0)
    except (EOFError, KeyboardInterrupt, BrokenPipeError):
        pass
    finally:
        del obs
        shm.close()


class Worker:
    def __init__(self, pool, index):
        self.index = index
        self.pool = pool
        self.restarts = 0
        self.steps = 0
        self.rate = 0.0
        self.exec_s = 0.0
        self.ipc_s = 0.0
        self.sent_at = None
        self.restart_at = None
        self.start()

    def start(self):
        a = self.pool.args
        parent, child = mp.Pipe()
        stall_every = a.stall_every if self.index == a.stall_worker else 0
        crash_every = a.crash_every if self.index == a.crash_worker else 0
        self.proc = self.pool.ctx.Process(
            target=worker_main, name=f"env-worker-{self.index}",
            args=(self.index, child, self.pool.shm.name, a.chunk, a.step_ms / 1000.0, stall_every, a.stall_seconds, crash_every,
                  a.seed * 1000 + self.index * 10 + self.restarts))
        self.proc.start()
        child.close()
        self.pipe = parent
        self.sent_at = None
        self.state = "starting"
        self.report()

    def report(self):
        self.pool.telemetry.worker(self.index, pid=self.proc.pid or 0, host=self.pool.host, state=self.state,
                                   chunk_size=self.pool.args.chunk, steps=self.steps, steps_per_s=self.rate,
                                   exec_s=self.exec_s, ipc_s=self.ipc_s, restarts=self.restarts)

    def send(self):
        actions = self.pool.rng.normal(size=(self.pool.args.chunk, OBS_DIM)).astype(np.float32)
        self.sent_at = time.perf_counter()
        self.pipe.send(actions)

    def died(self):
        self.state = "dead"
        self.report()
        self.pipe.close()
        self.proc.join(timeout=1)
        self.restart_at = time.monotonic() + self.pool.args.restart_delay

    def stop(self):
        try:
            self.pipe.send(None)
        except (BrokenPipeError, OSError):
            pass
        self.proc.join(timeout=2)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.state = "stopped"
        self.report()


class Pool:
    def __init__(self, args):
        self.args = args
        self.ctx = mp.get_context("fork")
        self.rng = np.random.default_rng(args.seed)
        self.host = socket.gethostname()[:31]
        self.telemetry = fleetscope.TelemetryWriter(args.name, max_workers=max(256, args.workers))
        self.shm = shared_memory.SharedMemory(create=True, size=args.workers * args.chunk * OBS_DIM * 4)
        self.workers = [Worker(self, i) for i in range(args.workers)]

    def run(self):
        started = time.monotonic()
        last_second = started
        steps_in_second = 0
        total_steps = 0
        for w in self.workers:
            w.send()
        while not stop and (self.args.seconds <= 0 or time.monotonic() - started < self.args.seconds):
            pipes = {w.pipe: w for w in self.workers if w.restart_at is None}
            for pipe in connection.wait(list(pipes), timeout=0.05):
                w = pipes[pipe]
                try:
                    exec_s = pipe.recv()
                except (EOFError, OSError):
                    w.died()
                    continue
                round_trip = time.perf_counter() - w.sent_at
                w.exec_s, w.ipc_s = exec_s, max(0.0, round_trip - exec_s)
                w.steps += self.args.chunk
                w.rate = 0.8 * w.rate + 0.2 * (self.args.chunk / max(round_trip, 1e-6)) if w.rate else \
                    self.args.chunk / max(round_trip, 1e-6)
                w.state = "running"
                w.report()
                steps_in_second += self.args.chunk
                total_steps += self.args.chunk
                w.send()
            now = time.monotonic()
            for w in self.workers:
                if w.restart_at is not None and now >= w.restart_at:
                    w.restart_at = None
                    w.restarts += 1
                    w.state = "restarting"
                    w.report()
                    w.start()
                    w.send()
                elif w.restart_at is None and not w.proc.is_alive():
                    w.died()  # gone without closing its pipe yet
            if now - last_second >= 1.0:
                self.telemetry.scalars_at(total_steps, {
                    "pool/steps_per_s": steps_in_second / (now - last_second),
                    "pool/workers_running": sum(w.state == "running" for w in self.workers),
                })
                steps_in_second = 0
                last_second = now
        return total_steps

    def close(self):
        for w in self.workers:
            if w.restart_at is None:
                w.stop()
        self.shm.close()
        self.shm.unlink()
        self.telemetry.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", default="envpool", help="segment name (default: envpool)")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--chunk", type=int, default=32, help="actions per chunk")
    parser.add_argument("--seconds", type=float, default=0.0, help="run time; 0 = until SIGTERM/SIGINT")
    parser.add_argument("--step-ms", type=float, default=1.0, help="simulated physics time per env step")
    parser.add_argument("--stall-worker", type=int, default=2, help="this worker stalls now and then (-1: none)")
    parser.add_argument("--stall-every", type=float, default=25.0)
    parser.add_argument("--stall-seconds", type=float, default=5.0)
    parser.add_argument("--crash-worker", type=int, default=5, help="this worker crashes now and then (-1: none)")
    parser.add_argument("--crash-every", type=float, default=40.0)
    parser.add_argument("--restart-delay", type=float, default=2.0, help="seconds a dead worker stays dead")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.workers < 1 or args.chunk < 1:
        parser.error("--workers and --chunk must be positive")
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    pool = Pool(args)
    try:
        steps = pool.run()
    finally:
        pool.close()
    print(f"env pool: {args.workers} workers, {steps} steps, "
          f"{sum(w.restarts for w in pool.workers)} restarts")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
