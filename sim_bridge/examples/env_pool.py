#!/usr/bin/env python3
"""A pool of environment worker processes stepping URDF arms that reach targets (reach_env.py),
reported to fleetscope: each worker's arms and targets as robots of its own pose segment, each
worker's status as a row of the pool's telemetry segment.

One process per worker (multiprocessing, fork); each steps ``--envs`` arms together (a batch of
``ReachEnv``). The driver (the PPO trainer, or this program's random policy) writes actions into
shared memory and tells a worker over its pipe to step; the worker steps its arms, writes
observations, rewards and episode ends into shared memory and replies with its execution time
and the episodes that ended. The pool measures the round trip, so IPC time = round trip -
execution time. Workers step independently: a slow or stalled one holds up nobody.

What the viewer gets:
- segment ``NAME`` (telemetry only): a worker row per worker (state, pid, steps, steps/s, envs per
  worker as chunk size, execution and IPC time, restarts; refreshed at most 10 times a second, and
  while a worker waits for its driver), ``pool/steps_per_s`` and ``pool/workers_running`` each
  second;
- segment ``NAME.wI`` per worker I: its arms (``wI.armE``, the URDF's meshes stored in the
  segment) and targets (``wI.targetE``, spheres: orange, green while the arm's tool is on them),
  on a grid (a row of arms per worker, 2 m apart, at y <= -4 m, clear of fleetscope-sim's fleet),
  published at most ``--publish-hz`` times a second (a learner steps the arms in bursts between
  its updates: each worker spreads its steps over wall time, so the arms move smoothly instead of
  jumping, at most 1 s behind; ``--no-pace`` shows the newest state), each robot with its producer
  attributes: worker I, environment E, scalar = the environment's current episode return, episode
  progress = steps into the episode and episodes finished.

``--stall-worker`` stalls one worker now and then (it stops replying for ``--stall-seconds``);
``--crash-worker`` crashes one now and then (SIGKILL: its segment is left with a dead writer, the
pool reports it dead, restarts it after ``--restart-delay`` under the same segment name).

Run:  PYTHONPATH=build/python python3 sim_bridge/examples/env_pool.py --workers 8 --seconds 30
(alone it drives the arms with random actions; ppo_trainer.py drives the same pool with its policy)
"""
import argparse
import ctypes
import multiprocessing as mp
import os
import signal
import socket
import sys
import time
from multiprocessing import connection, shared_memory

import numpy as np

import fleetscope
from fleetscope.urdf import UrdfModel
from reach_env import ReachEnv, find_urdf, grid_positions

stop = False


def request_stop(*_):
    global stop
    stop = True


class SharedArrays:
    """The pool's shared memory: per worker and environment the observation, the action, the
    reward and the episode end of the last step. Created by the pool, attached by the workers."""

    def __init__(self, workers, envs, obs_dim, act_dim, name=None):
        shapes = [("obs", (workers, envs, obs_dim), np.float32), ("act", (workers, envs, act_dim), np.float32),
                  ("rew", (workers, envs), np.float32), ("done", (workers, envs), np.uint8)]
        sizes = [int(np.prod(shape)) * np.dtype(dtype).itemsize for _, shape, dtype in shapes]
        offsets = np.concatenate([[0], np.cumsum([(s + 63) // 64 * 64 for s in sizes])])
        if name is None:
            self.shm = shared_memory.SharedMemory(create=True, size=int(offsets[-1]))
        else:
            self.shm = shared_memory.SharedMemory(name=name)
        self.name = self.shm.name
        for (field, shape, dtype), offset in zip(shapes, offsets):
            setattr(self, field, np.ndarray(shape, dtype=dtype, buffer=self.shm.buf, offset=int(offset)))

    def close(self, unlink=False):
        for field in ("obs", "act", "rew", "done"):
            setattr(self, field, None)
        self.shm.close()
        if unlink:
            self.shm.unlink()


class WorkerPublisher:
    """One worker's pose segment: its arms and their targets, with producer attributes."""

    TARGET_COLOR = (240, 110, 30)
    REACHED_COLOR = (40, 200, 70)

    def __init__(self, name, model: UrdfModel, env: ReachEnv, worker: int):
        n = env.n
        fp = model.footprint
        visuals = fp["visuals"] + 1
        self.writer = fleetscope.Writer(name, max_robots=2 * n, max_links=model.link_count, max_models=2,
                                        max_visuals=max(64, visuals), detect_changes=True,
                                        mesh_bytes=max(4096, 2 * fp["mesh_bytes"]), max_meshes=max(4, fp["meshes"]),
                                        max_geometry_visuals=max(64, visuals))
        arm = model.add_to(self.writer)
        self.arms = [self.writer.spawn_robot(f"w{worker}.arm{e}", arm) for e in range(n)]
        target = self.writer.add_model("target", [fleetscope.Sphere(0.045, color=self.TARGET_COLOR, name="target")])
        self.targets = [self.writer.spawn_robot(f"w{worker}.target{e}", target) for e in range(n)]
        self.worker = worker
        self.reached = np.zeros(n, dtype=bool)
        self.last_publish = 0.0

    def publish(self, frame) -> None:
        """Publishes one frame (see :func:`snapshot`): poses, and per environment its attributes."""
        w = self.writer
        sim_time, poses, returns, steps, episodes, reached = frame
        w.set_all_poses(poses)
        for e, (arm, target) in enumerate(zip(self.arms, self.targets)):
            ret, t, done = float(returns[e]), int(steps[e]), int(episodes[e])
            for robot in (arm, target):
                w.set_robot_attributes(robot, worker=self.worker, environment=e, scalar=ret)
                w.set_robot_episode(robot, t, done)
            if reached[e] != self.reached[e]:
                w.set_robot_color(target, self.REACHED_COLOR if reached[e] else None)
        self.reached = reached
        w.publish(sim_time)
        self.last_publish = time.monotonic()

    def close(self):
        self.writer.close()


def snapshot(env: ReachEnv, sim_time: float):
    """What the viewer is shown of the environments now: (sim time, every pose (arms' links, then
    targets), episode returns, steps into the episodes, episodes finished, targets reached)."""
    poses = np.concatenate([env.link_poses.reshape(-1, 7), env.target_poses().astype(np.float32)])
    return (sim_time, poses, env.ep_return.copy(), env.t.copy(), env.episodes.copy(),
            env.distance() < env.success_radius)


class PacedFrames:
    """Spreads a worker's frames over wall time. A learner steps its environments in bursts (a
    rollout) between pauses (its update): shown as they happen, the arms would jump a second of
    motion at a time, then freeze. Each frame is shown instead one step's share of the wall time
    after the previous one (measured: the worker's wall time per step over the last seconds), so
    the arms move smoothly at the speed the training runs; the display stays at most ``max_lag``
    seconds behind the simulation. A worker stepped without pauses is shown at once."""

    def __init__(self, period: float, max_lag: float = 1.0):
        self.period = period
        self.max_lag = max_lag
        self.frames = []           # [display time, frame], oldest first
        self.step_wall = 0.0       # wall seconds per step
        self.window = (time.monotonic(), 0)
        self.last_display = 0.0

    def push(self, frame) -> None:
        now = time.monotonic()
        start, steps = self.window
        steps += 1
        if now - start >= 1.0:
            rate = (now - start) / steps
            self.step_wall = rate if not self.step_wall else 0.5 * self.step_wall + 0.5 * rate
            start, steps = now, 0
        self.window = (start, steps)
        display = max(now, self.last_display + self.step_wall)
        if display - now > self.max_lag:
            display = now  # fallen behind (the training sped up): catch up
        self.last_display = display
        self.frames.append((display, frame))

    def due(self, last_publish: float):
        """The newest frame whose time has come, when a publish is due; older ones are dropped."""
        now = time.monotonic()
        if now - last_publish < self.period or not self.frames or self.frames[0][0] > now:
            return None
        k = 0
        while k + 1 < len(self.frames) and self.frames[k + 1][0] <= now:
            k += 1
        frame = self.frames[k][1]
        del self.frames[:k + 1]
        return frame

    def wait(self, last_publish: float, idle: float = 0.5) -> float:
        """Seconds until a frame is due (``idle`` when none is waiting)."""
        if not self.frames:
            return idle
        now = time.monotonic()
        return max(0.0, min(idle, max(self.frames[0][0], last_publish + self.period) - now))


def _die_with_parent():
    """SIGTERM when the pool's process dies, however it dies (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def worker_main(index, pipe, shm_name, cfg):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the pool decides when workers stop
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # closes (removes) the segment on the way out
    _die_with_parent()
    parent = os.getppid()
    arrays = SharedArrays(cfg["workers"], cfg["envs"], ReachEnv.obs_dim, len(ReachEnv.controlled), shm_name)
    publisher = None
    try:
        model = UrdfModel(cfg["urdf"])
        env = ReachEnv(cfg["envs"], model, grid_positions(index, cfg["envs"], cfg["spacing"]), seed=cfg["seed"],
                       episode_steps=cfg["episode_steps"])
        publisher = WorkerPublisher(cfg["segment"], model, env, index)
        paced = PacedFrames(1.0 / cfg["publish_hz"]) if cfg["pace"] else None
        period = 1.0 / cfg["publish_hz"]
        rng = np.random.default_rng(cfg["seed"])
        born = time.monotonic()
        next_stall = born + cfg["stall_every"] if cfg["stall_every"] > 0 else float("inf")
        crash_at = born + cfg["crash_every"] * rng.uniform(0.7, 1.3) if cfg["crash_every"] > 0 else float("inf")
        steps = 0
        arrays.obs[index] = env.observe()
        arrays.rew[index] = 0.0
        arrays.done[index] = 0
        publisher.publish(snapshot(env, 0.0))
        pipe.send(("reset", 0.0, []))
        while True:
            wait = paced.wait(publisher.last_publish) if paced else 0.5
            if not pipe.poll(wait):  # the driver is busy (a PPO update)
                if os.getppid() != parent:
                    break
                frame = paced.due(publisher.last_publish) if paced else None
                if frame is not None:
                    publisher.publish(frame)
                elif time.monotonic() - publisher.last_publish >= 0.5:
                    publisher.writer.heartbeat()  # tell readers we are alive
                continue
            if pipe.recv() is None:
                break
            t0 = time.perf_counter()
            obs, reward, done, finished = env.step(arrays.act[index])
            arrays.obs[index] = obs
            arrays.rew[index] = reward
            arrays.done[index] = done
            steps += 1
            now = time.monotonic()
            if paced:
                paced.push(snapshot(env, steps * env.dt))
                frame = paced.due(publisher.last_publish)
                if frame is not None:
                    publisher.publish(frame)
            elif now - publisher.last_publish >= period:
                publisher.publish(snapshot(env, steps * env.dt))
            if now >= crash_at:
                os.kill(os.getpid(), signal.SIGKILL)  # a crash: no goodbye, no cleanup
            if now >= next_stall:
                time.sleep(cfg["stall_seconds"])  # a stall: the pool hears nothing meanwhile
                next_stall = time.monotonic() + cfg["stall_every"]
            pipe.send(("step", time.perf_counter() - t0, finished))
    except (EOFError, KeyboardInterrupt, BrokenPipeError, ConnectionResetError):
        pass
    finally:
        if publisher is not None:
            publisher.close()
        arrays.close()


class Worker:
    """The pool's side of one worker process."""

    def __init__(self, pool, index):
        self.index = index
        self.pool = pool
        self.restarts = 0
        self.steps = 0
        self.rate = 0.0
        self.exec_s = 0.0
        self.ipc_s = 0.0
        self.pending = False
        self.sent_at = 0.0
        self.restart_at = None
        self.last_report = 0.0
        self.rate_mark = (time.monotonic(), 0)  # steps/s: steps over the last second of wall time
        self.proc = None
        self.pipe = None
        self.start()

    @property
    def segment(self):
        return f"{self.pool.name}.w{self.index}"

    def start(self):
        p = self.pool
        parent, child = mp.Pipe()
        cfg = dict(p.config, segment=self.segment, seed=p.seed * 1000 + self.index * 10 + self.restarts,
                   stall_every=p.stall_every if self.index == p.stall_worker else 0.0,
                   crash_every=p.crash_every if self.index == p.crash_worker else 0.0)
        self.proc = p.ctx.Process(target=worker_main, name=f"env-worker-{self.index}",
                                  args=(self.index, child, p.arrays.name, cfg), daemon=True)
        self.proc.start()
        child.close()
        self.pipe = parent
        self.pending = True  # until its first message: the environments' first observations
        self.sent_at = time.perf_counter()
        self.state = "starting"
        self.report(force=True)

    def report(self, force=False):
        now = time.monotonic()
        if not force and now - self.last_report < 0.1:
            return
        self.last_report = now
        mark_time, mark_steps = self.rate_mark
        if now - mark_time >= 1.0:  # waiting for the driver counts: this is throughput, not speed
            self.rate = (self.steps - mark_steps) / (now - mark_time)
            self.rate_mark = (now, self.steps)
        self.pool.telemetry.worker(self.index, pid=self.proc.pid or 0, host=self.pool.host, state=self.state,
                                   chunk_size=self.pool.envs, steps=self.steps, steps_per_s=self.rate,
                                   exec_s=self.exec_s, ipc_s=self.ipc_s, restarts=self.restarts)

    def died(self):
        self.state = "dead"
        self.pending = False
        self.rate = 0.0
        self.report(force=True)
        self.pipe.close()
        self.proc.join(timeout=1)
        self.restart_at = time.monotonic() + self.pool.restart_delay

    @property
    def alive(self):
        return self.restart_at is None


class EnvPool:
    """Workers of ``envs`` arms each, their telemetry rows in segment ``name`` and their robots in
    segments ``name.wI``. Drive it with :meth:`events` and :meth:`step_async`; call
    :meth:`heartbeat` while busy elsewhere (a learner's update), :meth:`close` at the end.

    Shared arrays, per worker I: ``obs[I]`` (envs x obs_dim), ``act[I]`` (envs x act_dim),
    ``rew[I]``, ``done[I]`` (envs), valid after a "reset" or "step" event of I until the next
    :meth:`step_async` of I."""

    def __init__(self, name="envpool", workers=8, envs=8, seed=1, urdf=None, spacing=2.0, episode_steps=80,
                 publish_hz=30.0, pace=True, stall_worker=-1, stall_every=25.0, stall_seconds=5.0, crash_worker=-1,
                 crash_every=40.0, restart_delay=2.0):
        if workers < 1 or envs < 1:
            raise ValueError("workers and envs must be positive")
        self.name, self.num_workers, self.envs, self.seed = name, workers, envs, seed
        self.stall_worker, self.stall_every, self.stall_seconds = stall_worker, stall_every, stall_seconds
        self.crash_worker, self.crash_every, self.restart_delay = crash_worker, crash_every, restart_delay
        self.obs_dim, self.act_dim = ReachEnv.obs_dim, len(ReachEnv.controlled)
        self.config = dict(workers=workers, envs=envs, urdf=find_urdf(urdf), spacing=spacing,
                           episode_steps=episode_steps, publish_hz=publish_hz, pace=pace, stall_seconds=stall_seconds)
        self.ctx = mp.get_context("fork")
        self.host = socket.gethostname()[:31]
        self.telemetry = fleetscope.TelemetryWriter(name, max_workers=max(256, workers))
        self.arrays = SharedArrays(workers, envs, self.obs_dim, self.act_dim)
        self.obs, self.act, self.rew, self.done = self.arrays.obs, self.arrays.act, self.arrays.rew, self.arrays.done
        self.total_steps = 0
        self._second_start = time.monotonic()
        self._second_steps = 0
        self.workers = []
        try:
            for i in range(workers):
                self.workers.append(Worker(self, i))
        except BaseException:
            self.close()
            raise

    # -- driving ---------------------------------------------------------------------------------
    def step_async(self, index, actions):
        """Writes ``actions`` (envs x act_dim) for worker ``index`` and tells it to step."""
        w = self.workers[index]
        self.act[index] = actions
        w.sent_at = time.perf_counter()
        w.pending = True
        try:
            w.pipe.send(True)
        except (BrokenPipeError, OSError):
            pass  # it died: events() reports it

    def events(self, timeout=0.05):
        """Waits up to ``timeout`` s for replies; returns a list of (kind, worker, finished):
        "reset" (a worker started or restarted: ``obs`` holds its first observations), "step" (its
        step is done: ``obs``, ``rew``, ``done`` hold the results) or "dead" (it crashed; its
        step, if any, is lost). ``finished`` lists the episodes that ended in that step as
        (environment, return, length, reached, final distance) tuples."""
        out = []
        pipes = {w.pipe: w for w in self.workers if w.alive and w.pending}
        for pipe in connection.wait(list(pipes), timeout=timeout) if pipes else []:
            w = pipes[pipe]
            try:
                kind, exec_s, finished = pipe.recv()
            except (EOFError, OSError):
                w.died()
                out.append(("dead", w.index, []))
                continue
            w.pending = False
            if kind == "step":
                round_trip = time.perf_counter() - w.sent_at
                w.exec_s, w.ipc_s = exec_s, max(0.0, round_trip - exec_s)
                w.steps += self.envs
                self.total_steps += self.envs
                self._second_steps += self.envs
            w.state = "running"
            w.report(force=kind == "reset")
            out.append((kind, w.index, finished))
        if not pipes:
            time.sleep(timeout)
        out.extend(self.heartbeat())
        return out

    def heartbeat(self):
        """Housekeeping, also while nobody drives the pool: rows of idle workers (waiting for the
        driver) stay fresh, dead workers are noticed and restarted when due, and each second the
        pool's throughput is recorded. Returns "dead" events of workers found gone."""
        out = []
        now = time.monotonic()
        for w in self.workers:
            if w.alive and not w.proc.is_alive():
                w.died()
                out.append(("dead", w.index, []))
            elif not w.alive and now >= w.restart_at:
                w.restart_at = None
                w.restarts += 1
                w.state = "restarting"
                w.report(force=True)
                w.start()
            elif w.alive and not w.pending:
                w.report()
        if now - self._second_start >= 1.0:
            self.telemetry.scalars_at(self.total_steps, {
                "pool/steps_per_s": self._second_steps / (now - self._second_start),
                "pool/workers_running": sum(w.state == "running" for w in self.workers),
            })
            self._second_steps = 0
            self._second_start = now
        return out

    def cpu_seconds(self):
        """CPU time (user + system) of the live worker processes so far."""
        total = 0.0
        for w in self.workers:
            try:
                with open(f"/proc/{w.proc.pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            except (OSError, IndexError, ValueError, TypeError):
                pass
        return total

    @property
    def restarts(self):
        return sum(w.restarts for w in self.workers)

    # -- the end ---------------------------------------------------------------------------------
    def close(self):
        """Stops the workers (each removes its segment), removes the segments of those that died,
        the shared memory and the telemetry segment. Bounded: about 2 s at most."""
        running = [w for w in self.workers if w.alive and w.proc is not None]
        for w in running:
            try:
                w.pipe.send(None)
            except (BrokenPipeError, OSError):
                pass
        deadline = time.monotonic() + 1.5
        for w in running:
            w.proc.join(timeout=max(0.0, deadline - time.monotonic()))
            if w.proc.is_alive():
                w.proc.terminate()  # a stalled worker: SIGTERM still closes its segment
                w.proc.join(timeout=0.3)
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join()
            w.state = "stopped"
            w.report(force=True)
        for w in self.workers:
            # A worker killed (a crash, or no reply to SIGTERM) left its segment: replace and remove it.
            if os.path.exists(f"/dev/shm/fleetscope.{w.segment}"):
                try:
                    fleetscope.TelemetryWriter(w.segment, max_workers=1, max_jobs=1, scalar_capacity=2).close()
                except fleetscope.FleetscopeError:
                    pass
        self.arrays.close(unlink=True)
        self.telemetry.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", default="envpool", help="telemetry segment; workers write NAME.wI (default: envpool)")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--envs", type=int, default=8, help="arms per worker")
    parser.add_argument("--seconds", type=float, default=0.0, help="run time; 0 = until SIGTERM/SIGINT")
    parser.add_argument("--publish-hz", type=float, default=30.0, help="pose publishes per second per worker")
    parser.add_argument("--no-pace", action="store_true", help="publish each worker's newest state (its arms jump "
                        "while a learner updates) instead of spreading its steps over wall time")
    parser.add_argument("--stall-worker", type=int, default=2, help="this worker stalls now and then (-1: none)")
    parser.add_argument("--stall-every", type=float, default=25.0)
    parser.add_argument("--stall-seconds", type=float, default=5.0)
    parser.add_argument("--crash-worker", type=int, default=5, help="this worker crashes now and then (-1: none)")
    parser.add_argument("--crash-every", type=float, default=40.0)
    parser.add_argument("--restart-delay", type=float, default=2.0, help="seconds a dead worker stays dead")
    parser.add_argument("--urdf", default=None, help="the arm (default: resources/urdf/fs_arm6.urdf)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.workers < 1 or args.envs < 1 or args.publish_hz <= 0:
        parser.error("--workers, --envs and --publish-hz must be positive")
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    pool = EnvPool(args.name, args.workers, args.envs, seed=args.seed, urdf=args.urdf, publish_hz=args.publish_hz,
                   pace=not args.no_pace,
                   stall_worker=args.stall_worker, stall_every=args.stall_every, stall_seconds=args.stall_seconds,
                   crash_worker=args.crash_worker, crash_every=args.crash_every, restart_delay=args.restart_delay)
    rng = np.random.default_rng(args.seed)
    started = time.monotonic()
    try:
        while not stop and (args.seconds <= 0 or time.monotonic() - started < args.seconds):
            for kind, index, _ in pool.events(timeout=0.05):
                if kind != "dead":
                    pool.step_async(index, rng.uniform(-1.0, 1.0, (args.envs, pool.act_dim)))
    finally:
        pool.close()
    print(f"env pool: {args.workers} workers, {pool.total_steps} steps, {pool.restarts} restarts")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
