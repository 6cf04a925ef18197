"""A reaching task for a URDF arm, batched in NumPy: N copies of ``fs_arm6`` reach random targets.

The state of an environment is a robot pose: the arm's joint positions and velocities, read by
forward kinematics (``fleetscope.urdf``, one C call for all arms of a batch). Each step the policy
gives a velocity command per controlled joint in -1..1 (shoulder_pan, shoulder_lift, elbow); the
joints follow it with a first-order lag (a motor with inertia), are integrated at ``dt`` and stop
at their URDF limits. A joint whose limits span a full turn (shoulder_pan: -pi..pi) wraps around
instead, as a continuous joint does (``wrap_full_turn=False`` enforces the stop: a policy then
has to learn to turn the long way round, and after 240 k steps reaches about 72 % of its targets,
return about -5, where it reaches 90-100 %, return +1 to +4). The other joints hold still.

Reward per step: ``-distance`` (metres, tool0 to the target) minus a small action penalty
(``success_bonus`` per step on the target: 0 by default, since a bonus per step teaches a policy
to hover near the target rather than finish). An episode succeeds, with ``done_bonus``, once
tool0 has stayed within ``success_radius`` of the target for ``hold_steps`` steps in a row; it ends
unsuccessful after ``episode_steps`` steps (the remaining time and the steps held are part of the
observation, so both ends are true terminals). Then the target moves somewhere new and the arm
carries on from where it is. A policy that never reaches gets about -30 per episode, one that
reaches every target quickly about +4 (shorter episodes, more of them per second).

Targets are drawn from the arm's own workspace (forward kinematics of random joint positions,
above the floor), so every one can be reached.

Observation (19 floats): sine and cosine of shoulder_pan, the other controlled joint positions /
pi, the controlled joints' velocities / max velocity, tool0 and target positions relative to the
arm's base in the frame that turns with shoulder_pan, the target minus tool0 in that frame (x4),
the distance, the episode time left (1 at the start, 0 at the end) and the steps held on the
target / ``hold_steps``.
"""
from __future__ import annotations

import os

import numpy as np

from fleetscope.urdf import UrdfModel

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_URDF = os.path.normpath(os.path.join(HERE, "..", "..", "resources", "urdf", "fs_arm6.urdf"))


def find_urdf(path: str | None = None) -> str:
    """The arm's URDF: ``path``, else $FLEETSCOPE_URDF, else the source tree's resources/urdf/fs_arm6.urdf."""
    path = path or os.environ.get("FLEETSCOPE_URDF") or DEFAULT_URDF
    if not os.path.exists(path):
        raise FileNotFoundError(f"arm URDF '{path}' not found (set FLEETSCOPE_URDF or pass --urdf)")
    return path


class ReachEnv:
    """``n`` arms reaching targets, stepped together. Bases at ``base_positions`` (n x 3, world
    frame, metres); the observation, reward and dynamics are relative to each base."""

    controlled = (0, 1, 2)          # shoulder_pan, shoulder_lift, elbow
    obs_dim = 19
    # Where targets are drawn from (joint positions whose tool0 lands above the floor).
    target_low = np.array([-np.pi, -1.3, -2.2])
    target_high = np.array([np.pi, 1.3, 2.2])

    def __init__(self, n: int, model: UrdfModel, base_positions, seed: int = 0, dt: float = 0.05,
                 episode_steps: int = 80, success_radius: float = 0.05, success_bonus: float = 0.0,
                 lag_s: float = 0.1, action_cost: float = 0.01, hold_steps: int = 10, done_bonus: float = 10.0,
                 wrap_full_turn: bool = True):
        self.n = n
        self.model = model
        self.rng = np.random.default_rng(seed)
        self.dt = dt
        self.episode_steps = episode_steps
        self.success_radius = success_radius
        self.success_bonus = success_bonus
        self.alpha = min(1.0, dt / lag_s)
        self.action_cost = action_cost
        self.hold_steps = hold_steps
        self.done_bonus = done_bonus
        self.act_dim = len(self.controlled)
        self.tool = model.link_names.index("tool0") if "tool0" in model.link_names else model.link_count - 1
        c = list(self.controlled)
        self.lower = np.asarray(model.lower)[c]
        self.upper = np.asarray(model.upper)[c]
        self.vmax = np.full(self.act_dim, 2.0)  # rad/s: the URDF's velocity limit of these joints
        self.wraps = (self.upper - self.lower) >= 2 * np.pi - 1e-3  # a full turn: continuous
        self.wraps &= wrap_full_turn
        self.bases = np.zeros((n, 7))
        self.bases[:, :3] = np.asarray(base_positions, dtype=np.float64).reshape(n, 3)
        self.bases[:, 6] = 1.0
        self.q_full = np.zeros((n, model.dof))
        self.q_full[:, 4] = 0.4      # wrist_2 slightly bent: the arm reads as an arm, not a pole
        self.q = np.zeros((n, self.act_dim))
        self.qd = np.zeros((n, self.act_dim))
        self.target = np.zeros((n, 3))  # relative to the base
        self.t = np.zeros(n, dtype=np.int64)
        self.held = np.zeros(n, dtype=np.int64)  # steps in a row on the target
        self.ep_return = np.zeros(n)
        self.episodes = np.zeros(n, dtype=np.int64)
        self.link_poses = None  # (n, links, 7) float32, world frame, after the last step
        self.reset()

    # -- kinematics ------------------------------------------------------------------------------
    def _fk(self):
        self.q_full[:, list(self.controlled)] = self.q
        self.link_poses = self.model.forward_kinematics(self.q_full, self.bases)
        self.tool_pos = self.link_poses[:, self.tool, :3].astype(np.float64) - self.bases[:, :3]

    def _sample_targets(self, rows: np.ndarray) -> None:
        """New reachable targets for ``rows``: tool0 of random joint positions, kept above 0.15 m."""
        todo = np.asarray(rows)
        while todo.size:
            q = np.zeros((todo.size, self.model.dof))
            q[:, list(self.controlled)] = self.rng.uniform(self.target_low, self.target_high, (todo.size, self.act_dim))
            q[:, 4] = 0.4
            tool = self.model.forward_kinematics(q)[:, self.tool, :3].astype(np.float64)
            ok = tool[:, 2] > 0.15
            self.target[todo[ok]] = tool[ok]
            todo = todo[~ok]

    # -- the task --------------------------------------------------------------------------------
    def reset(self, stagger: bool = True) -> np.ndarray:
        """Every arm near its zero pose with a new target. ``stagger``: the first episodes start
        part-way through (a random step), so the arms' episodes do not all end at once; those
        shortened episodes are not reported by :meth:`step`."""
        all_rows = np.arange(self.n)
        self.q = self.rng.uniform(-0.5, 0.5, (self.n, self.act_dim))
        self.qd[:] = 0.0
        self.t[:] = self.rng.integers(0, self.episode_steps, self.n) if stagger else 0
        self.partial = self.t > 0
        self.held[:] = 0
        self.ep_return[:] = 0.0
        self._sample_targets(all_rows)
        self._fk()
        return self.observe()

    def observe(self) -> np.ndarray:
        # Positions in the frame that turns with shoulder_pan: x ahead of the arm, y to its left.
        c, s = np.cos(self.q[:, 0:1]), np.sin(self.q[:, 0:1])

        def turned(v):
            return np.concatenate([c * v[:, 0:1] + s * v[:, 1:2], c * v[:, 1:2] - s * v[:, 0:1], v[:, 2:3]], axis=1)

        tool, target = turned(self.tool_pos), turned(self.target)
        delta = target - tool
        dist = np.linalg.norm(delta, axis=1, keepdims=True)
        left = 1.0 - self.t[:, None] / self.episode_steps
        held = self.held[:, None] / max(self.hold_steps, 1)
        return np.concatenate([s, c, self.q[:, 1:] / np.pi, self.qd / self.vmax, tool, target, delta * 4.0, dist, left,
                               held], axis=1).astype(np.float32)

    def distance(self) -> np.ndarray:
        return np.linalg.norm(self.target - self.tool_pos, axis=1)

    def step(self, action: np.ndarray):
        """One step of every arm. Returns (obs, reward, done, finished): ``done`` marks episodes that
        ended with this step (their new episode starts in ``obs``), ``finished`` lists them as
        (row, return, length, reached, final distance) tuples, but for the shortened first episodes
        of a staggered :meth:`reset`."""
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(self.n, self.act_dim), -1.0, 1.0)
        self.qd += (a * self.vmax - self.qd) * self.alpha
        q = self.q + self.qd * self.dt
        if self.wraps.any():
            q[:, self.wraps] = (q[:, self.wraps] + np.pi) % (2 * np.pi) - np.pi
        hit = ((q < self.lower) | (q > self.upper)) & ~self.wraps
        self.q = np.where(self.wraps, q, np.clip(q, self.lower, self.upper))
        self.qd[hit] = 0.0
        self._fk()
        dist = self.distance()
        reached = dist < self.success_radius
        self.held = np.where(reached, self.held + 1, 0)
        success = self.held >= self.hold_steps if self.hold_steps > 0 else np.zeros(self.n, dtype=bool)
        reward = (-dist + self.success_bonus * reached + self.done_bonus * success
                  - self.action_cost * np.sum(a * a, axis=1))
        self.ep_return += reward
        self.t += 1
        done = success | (self.t >= self.episode_steps)
        finished = []
        if done.any():
            rows = np.flatnonzero(done)
            finished = [(int(r), float(self.ep_return[r]), int(self.t[r]), bool(reached[r]), float(dist[r]))
                        for r in rows if not self.partial[r]]
            self.held[rows] = 0
            self.partial[rows] = False
            self.episodes[rows] += 1
            self.t[rows] = 0
            self.ep_return[rows] = 0.0
            self._sample_targets(rows)
        return self.observe(), reward.astype(np.float32), done, finished

    # -- what the viewer shows -------------------------------------------------------------------
    def target_poses(self) -> np.ndarray:
        """One pose per target (n x 7), world frame."""
        poses = np.zeros((self.n, 7))
        poses[:, :3] = self.target + self.bases[:, :3]
        poses[:, 6] = 1.0
        return poses


def grid_positions(worker: int, envs: int, spacing: float = 2.0, origin=(0.0, -4.0)) -> np.ndarray:
    """Bases of one worker's arms: a row of ``envs`` arms along x, one row per worker towards -y,
    ``spacing`` metres apart (the arm reaches about 1 m), clear of fleetscope-sim's fleet (which
    starts at the origin and grows towards +x, +y)."""
    positions = np.zeros((envs, 3))
    positions[:, 0] = origin[0] + np.arange(envs) * spacing
    positions[:, 1] = origin[1] - worker * spacing
    return positions
