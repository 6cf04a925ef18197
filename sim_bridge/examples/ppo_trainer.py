#!/usr/bin/env python3
"""PPO (PyTorch) training URDF arms to reach targets, stepped by a pool of worker processes, with
its KPIs published as fleetscope telemetry through ``fleetscope.SummaryWriter``.

The environments are env_pool.py's workers (``--workers`` processes of ``--envs-per-worker`` arms
each; reach_env.py is the task). Each worker steps on its own: whenever replies are in, the
policy runs once over every environment that is waiting (batched inference) and their actions go
out, so a slow or stalled worker holds up nobody. A rollout ends when every worker has
``--horizon`` steps, or, once the first has, after half as long again (stragglers: a stalled
worker's partial trajectory is used, its value bootstrapped; a crashed worker's too; a restarted
one joins at the next rollout). Then PPO: generalised advantage estimation, ``--epochs`` passes of
``--minibatches`` minibatches over the rollout with the clipped objective, value loss and entropy
bonus, Adam, gradient clipping, early stop when the approximate KL passes 1.5 x ``--target-kl``.
Policy: a Gaussian whose mean is a 2 x 64 tanh MLP, with a learned state-independent log std;
value: a separate 2 x 64 tanh MLP.

Published per iteration to segment ``--name`` (step = environment steps so far): the Trainer
panel's tiles (rollout/episodes_per_s, rollout/env_steps_per_s, rollout/episode_length_mean,
rollout/reward_mean (per step), system/cpu_util_pct (this trainer and its workers, share of the
machine), inference/batch_size, inference/calls_per_s, train/update_time_s), its time chart
(time/env_s, time/update_s, time/logging_s, time/waiting_s), and train/policy_loss,
train/value_loss, train/entropy, train/approx_kl, train/clip_fraction, train/learning_rate,
train/explained_variance, train/action_std, train/epochs, rollout/ep_return_mean,
rollout/ep_len_mean, rollout/success_rate, rollout/final_distance_m. ``--curve FILE`` also
writes the learning curve as CSV.

Run:  PYTHONPATH=build/python /usr/bin/python3 sim_bridge/examples/ppo_trainer.py --seconds 120
Then: the viewer (build/app/fleetscope --attach-all), or build/ipc/fleetscope-shm inspect trainer
"""
import argparse
import math
import os
import signal
import sys
import time

import numpy as np

try:
    import torch
    from torch import nn
except ImportError:  # pragma: no cover - told plainly, not as a traceback
    sys.exit("ppo_trainer.py needs PyTorch: apt-get install python3-torch (Debian), run with /usr/bin/python3")

from fleetscope import SummaryWriter  # TensorBoard's API: `from torch.utils.tensorboard import ...` works alike
from env_pool import EnvPool

stop = False
stopped_by = None


def request_stop(signum, _frame):
    global stop, stopped_by
    stop = True
    stopped_by = signal.Signals(signum).name


LOG_2PI_HALF = 0.5 * math.log(2 * math.pi)


class ActorCritic(nn.Module):
    def __init__(self, obs_dim, act_dim, hidden=64, log_std=-0.5):
        super().__init__()

        def mlp(out):
            return nn.Sequential(nn.Linear(obs_dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                                 nn.Linear(hidden, out))

        self.pi = mlp(act_dim)
        self.v = mlp(1)
        with torch.no_grad():  # start near "do nothing": small actions, the noise explores
            self.pi[-1].weight.mul_(0.01)
            self.pi[-1].bias.zero_()
        self.log_std = nn.Parameter(torch.full((act_dim,), float(log_std)))

    def log_prob(self, mean, log_std, actions):
        return (-0.5 * ((actions - mean) / log_std.exp()) ** 2 - log_std - LOG_2PI_HALF).sum(-1)

    def entropy(self, log_std):
        return (log_std + 0.5 + LOG_2PI_HALF).sum(-1)

    @torch.no_grad()
    def act(self, obs: np.ndarray):
        o = torch.from_numpy(obs)
        mean = self.pi(o)
        log_std = self.log_std.clamp(-3.0, 0.5)
        actions = mean + log_std.exp() * torch.randn_like(mean)
        return actions.numpy(), self.log_prob(mean, log_std, actions).numpy(), self.v(o).squeeze(-1).numpy()

    @torch.no_grad()
    def value(self, obs: np.ndarray):
        return self.v(torch.from_numpy(obs)).squeeze(-1).numpy()


class Rollout:
    """Per worker, a contiguous trajectory of up to ``horizon`` steps of its environments."""

    def __init__(self, horizon, workers, envs, obs_dim, act_dim):
        self.horizon = horizon
        shape = (horizon, workers, envs)
        self.obs = np.zeros(shape + (obs_dim,), np.float32)
        self.act = np.zeros(shape + (act_dim,), np.float32)
        self.logp = np.zeros(shape, np.float32)
        self.val = np.zeros(shape, np.float32)
        self.rew = np.zeros(shape, np.float32)
        self.done = np.zeros(shape, np.float32)
        self.length = np.zeros(workers, np.int64)

    def advantages(self, last_val, gamma, lam):
        """GAE over each worker's steps [0, length); ``last_val`` (workers x envs) bootstraps the
        step after the last one (0 after an episode's end)."""
        T = self.horizon
        adv = np.zeros_like(self.rew)
        running = np.zeros_like(last_val)
        for t in reversed(range(T)):
            valid = (t < self.length)[:, None]
            last = (t + 1 == self.length)[:, None]
            next_val = np.where(last, last_val, self.val[min(t + 1, T - 1)])
            nonterminal = 1.0 - self.done[t]
            delta = self.rew[t] + gamma * next_val * nonterminal - self.val[t]
            running = np.where(last, 0.0, running)
            running = delta + gamma * lam * nonterminal * running
            running = np.where(valid, running, 0.0)
            adv[t] = running
        return adv

    def valid_mask(self):
        return (np.arange(self.horizon)[:, None] < self.length[None, :])  # (T, workers)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", default="trainer", help="telemetry segment (default: trainer)")
    p.add_argument("--pool-name", default="envpool", help="the env pool's segment; workers write NAME.wI")
    p.add_argument("--workers", type=int, default=8, help="environment worker processes")
    p.add_argument("--envs-per-worker", type=int, default=8, help="arms per worker")
    p.add_argument("--seconds", type=float, default=0.0, help="run time; 0 = until SIGTERM/SIGINT (or --total-steps)")
    p.add_argument("--total-steps", type=int, default=0, help="stop after this many environment steps (0: no limit)")
    p.add_argument("--horizon", type=int, default=16, help="steps per environment per rollout")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--minibatches", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate at the start")
    p.add_argument("--lr-final", type=float, default=1e-4, help="the learning rate after --lr-decay-steps")
    p.add_argument("--lr-decay-steps", type=int, default=1_000_000,
                   help="environment steps over which the learning rate falls linearly to --lr-final")
    p.add_argument("--gamma", type=float, default=0.95)
    p.add_argument("--gae-lambda", type=float, default=0.9)
    p.add_argument("--clip", type=float, default=0.2)
    p.add_argument("--vf-coef", type=float, default=0.5)
    p.add_argument("--ent-coef", type=float, default=1e-3)
    p.add_argument("--max-grad-norm", type=float, default=0.5)
    p.add_argument("--target-kl", type=float, default=0.03, help="stop an update's epochs past 1.5 x this")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--threads", type=int, default=1, help="torch threads (the demo shares 2 cores)")
    p.add_argument("--nice", type=int, default=0, help="lower this process's (and its workers') priority")
    p.add_argument("--episode-steps", type=int, default=80, help="steps per episode (0.05 s each)")
    p.add_argument("--publish-hz", type=float, default=30.0, help="pose publishes per second per worker")
    p.add_argument("--no-pace", action="store_true", help="publish each worker's newest state instead of spreading "
                   "its steps over wall time (see env_pool.py)")
    p.add_argument("--stall-worker", type=int, default=-1, help="this worker stalls now and then (-1: none)")
    p.add_argument("--stall-every", type=float, default=25.0)
    p.add_argument("--stall-seconds", type=float, default=5.0)
    p.add_argument("--crash-worker", type=int, default=-1, help="this worker crashes now and then (-1: none)")
    p.add_argument("--crash-every", type=float, default=40.0)
    p.add_argument("--restart-delay", type=float, default=2.0)
    p.add_argument("--urdf", default=None, help="the arm (default: resources/urdf/fs_arm6.urdf)")
    p.add_argument("--curve", default=None, help="write the learning curve (one row per iteration) to this CSV")
    p.add_argument("--save", default=None, help="save the policy and value networks (torch state dict) here at the end")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    for name in ("workers", "envs_per_worker", "horizon", "epochs", "minibatches", "threads"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be positive")
    return args


class Trainer:
    def __init__(self, args, pool: EnvPool, writer: SummaryWriter):
        self.args, self.pool, self.writer = args, pool, writer
        W, n = pool.num_workers, pool.envs
        self.model = ActorCritic(pool.obs_dim, pool.act_dim, args.hidden)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=args.lr, eps=1e-5)
        self.buf = Rollout(args.horizon, W, n, pool.obs_dim, pool.act_dim)
        self.cur_obs = np.zeros((W, n, pool.obs_dim), np.float32)
        self.has_obs = np.zeros(W, bool)    # its current observation is known and it waits for actions
        self.pending = np.zeros(W, bool)    # actions sent, reply not in
        self.discard = np.zeros(W, bool)    # its pending step belongs to an earlier rollout
        self.env_steps = 0
        self.episodes = 0
        self.inference_calls = 0
        self.inference_rows = 0

    # -- acting ----------------------------------------------------------------------------------
    def infer_and_send(self, ready):
        if not ready:
            return
        obs = self.cur_obs[ready]  # (k, envs, obs_dim)
        actions, logp, val = self.model.act(obs.reshape(-1, obs.shape[-1]))
        n = self.pool.envs
        actions = actions.reshape(len(ready), n, -1)
        logp, val = logp.reshape(len(ready), n), val.reshape(len(ready), n)
        self.inference_calls += 1
        self.inference_rows += len(ready) * n
        b = self.buf
        for k, w in enumerate(ready):
            t = b.length[w]
            b.obs[t, w], b.act[t, w], b.logp[t, w], b.val[t, w] = obs[k], actions[k], logp[k], val[k]
            self.pool.step_async(w, actions[k])
            self.pending[w] = True
            self.has_obs[w] = False

    def collect(self, finished_episodes):
        """One rollout; returns (env seconds, waiting seconds)."""
        b, W, T = self.buf, self.pool.num_workers, self.args.horizon
        b.length[:] = 0
        full = np.zeros(W, bool)
        excluded = np.zeros(W, bool)  # died during this rollout after taking part
        self.boot_obs = {}            # excluded worker -> the observation its trajectory ends at
        started = time.monotonic()
        first_full = None
        self.infer_and_send([w for w in range(W) if self.has_obs[w]])
        while not stop:
            now = time.monotonic()
            alive = np.array([self.pool.workers[w].alive for w in range(W)])
            waiting_for = ~full & ~excluded & alive
            if not waiting_for.any() and b.length.any():
                break
            if first_full is not None and now - first_full > max(0.1, 0.5 * (first_full - started)):
                break  # stragglers: go on without them
            ready = []
            for kind, w, finished in self.pool.events(timeout=0.02):
                finished_episodes.extend(finished)
                if kind == "dead":
                    self.pending[w] = self.has_obs[w] = self.discard[w] = False
                    if b.length[w] > 0:  # its trajectory so far counts, bootstrapped where it ended
                        excluded[w] = True
                        self.boot_obs[w] = self.cur_obs[w].copy()
                    continue
                self.pending[w] = False
                self.cur_obs[w] = self.pool.obs[w]
                if kind == "reset":
                    self.discard[w] = False
                elif self.discard[w]:
                    self.discard[w] = False
                else:
                    t = b.length[w]
                    b.rew[t, w] = self.pool.rew[w]
                    b.done[t, w] = self.pool.done[w]
                    b.length[w] = t + 1
                    self.env_steps += self.pool.envs
                self.has_obs[w] = True
                if b.length[w] >= T:
                    full[w] = True
                    first_full = first_full or time.monotonic()
                elif not excluded[w]:
                    ready.append(w)
            self.infer_and_send(ready)
        ended = time.monotonic()
        self.discard |= self.pending  # their replies arrive in the next rollout: not recorded
        env_s = (first_full or ended) - started
        return env_s, ended - (first_full or ended)

    # -- learning --------------------------------------------------------------------------------
    def learning_rate(self):
        a = self.args
        done = min(1.0, self.env_steps / a.lr_decay_steps) if a.lr_decay_steps > 0 else 0.0
        return a.lr + (a.lr_final - a.lr) * done

    def update(self):
        a, b, W = self.args, self.buf, self.pool.num_workers
        for group in self.opt.param_groups:
            group["lr"] = self.learning_rate()
        ends = self.cur_obs.copy()
        for w, obs in self.boot_obs.items():  # a worker restarted meanwhile: its reset is no end
            ends[w] = obs
        last_val = self.model.value(ends.reshape(-1, self.pool.obs_dim)).reshape(W, -1)
        adv = b.advantages(last_val, a.gamma, a.gae_lambda)
        mask = b.valid_mask()
        obs = torch.from_numpy(b.obs[mask].reshape(-1, self.pool.obs_dim))
        act = torch.from_numpy(b.act[mask].reshape(-1, self.pool.act_dim))
        old_logp = torch.from_numpy(b.logp[mask].reshape(-1))
        old_val = b.val[mask].reshape(-1)
        adv_t = torch.from_numpy(adv[mask].reshape(-1))
        ret_np = adv[mask].reshape(-1) + old_val
        ret = torch.from_numpy(ret_np)
        count = obs.shape[0]
        stats = {"policy_loss": [], "value_loss": [], "entropy": [], "approx_kl": [], "clip_fraction": []}
        epochs = 0
        for _ in range(a.epochs):
            perm = torch.randperm(count)
            kls = []
            for idx in perm.chunk(a.minibatches):
                if stop:
                    break
                mean = self.model.pi(obs[idx])
                log_std = self.model.log_std.clamp(-3.0, 0.5)
                logp = self.model.log_prob(mean, log_std, act[idx])
                log_ratio = logp - old_logp[idx]
                ratio = log_ratio.exp()
                mb_adv = adv_t[idx]
                mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
                policy_loss = -torch.min(ratio * mb_adv, ratio.clamp(1 - a.clip, 1 + a.clip) * mb_adv).mean()
                value_loss = ((self.model.v(obs[idx]).squeeze(-1) - ret[idx]) ** 2).mean()
                entropy = self.model.entropy(log_std)
                loss = policy_loss + a.vf_coef * value_loss - a.ent_coef * entropy
                self.opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.model.parameters(), a.max_grad_norm)
                self.opt.step()
                with torch.no_grad():
                    kl = ((ratio - 1) - log_ratio).mean().item()
                    kls.append(kl)
                    stats["policy_loss"].append(policy_loss.item())
                    stats["value_loss"].append(value_loss.item())
                    stats["entropy"].append(entropy.item())
                    stats["approx_kl"].append(kl)
                    stats["clip_fraction"].append(((ratio - 1).abs() > a.clip).float().mean().item())
            epochs += 1
            self.pool.heartbeat()  # worker rows stay fresh, crashes are noticed meanwhile
            if stop or (a.target_kl > 0 and np.mean(kls) > 1.5 * a.target_kl):
                break
        var = np.var(ret_np)
        explained = float(1 - np.var(ret_np - old_val) / var) if var > 0 else 0.0
        out = {k: float(np.mean(v)) if v else 0.0 for k, v in stats.items()}
        out.update(explained_variance=explained, epochs=epochs, samples=count,
                   action_std=float(self.model.log_std.clamp(-3.0, 0.5).exp().mean()),
                   reward_mean=float(b.rew[mask].mean()) if count else 0.0)
        return out


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    if args.nice:
        os.nice(args.nice)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)

    pool = EnvPool(args.pool_name, args.workers, args.envs_per_worker, seed=args.seed + 1, urdf=args.urdf,
                   episode_steps=args.episode_steps, publish_hz=args.publish_hz, pace=not args.no_pace,
                   stall_worker=args.stall_worker,
                   stall_every=args.stall_every, stall_seconds=args.stall_seconds, crash_worker=args.crash_worker,
                   crash_every=args.crash_every, restart_delay=args.restart_delay)
    curve = open(args.curve, "w") if args.curve else None
    first_return = last_return = float("nan")
    iteration = 0
    try:
        with SummaryWriter(name=args.name) as writer:
            trainer = Trainer(args, pool, writer)
            if curve:
                curve.write("iteration,wall_s,env_steps,episodes,ep_return_mean,ep_len_mean,success_rate,"
                            "final_distance_m,reward_mean,policy_loss,value_loss,approx_kl,action_std\n")
            started = time.monotonic()
            cpu_mark = time.process_time() + pool.cpu_seconds()
            while not stop:
                if args.seconds > 0 and time.monotonic() - started >= args.seconds:
                    break
                if args.total_steps > 0 and trainer.env_steps >= args.total_steps:
                    break
                t0 = time.monotonic()
                steps0, calls0, rows0 = trainer.env_steps, trainer.inference_calls, trainer.inference_rows
                episodes = []
                env_s, waiting_s = trainer.collect(episodes)
                if stop:
                    break
                t1 = time.monotonic()
                stats = trainer.update()
                update_s = time.monotonic() - t1

                t2 = time.monotonic()
                elapsed = max(t2 - t0, 1e-6)
                steps = trainer.env_steps - steps0
                trainer.episodes += len(episodes)
                cpu_now = time.process_time() + pool.cpu_seconds()
                cpu_pct = max(0.0, cpu_now - cpu_mark) / elapsed / (os.cpu_count() or 1) * 100.0
                cpu_mark = cpu_now
                calls = trainer.inference_calls - calls0
                step = trainer.env_steps
                add = writer.add_scalar
                add("rollout/episodes_per_s", len(episodes) / elapsed, step)
                add("rollout/env_steps_per_s", steps / elapsed, step)
                add("rollout/reward_mean", stats["reward_mean"], step)
                add("system/cpu_util_pct", cpu_pct, step)
                add("inference/batch_size", (trainer.inference_rows - rows0) / max(calls, 1), step)
                add("inference/calls_per_s", calls / max(env_s + waiting_s, 1e-6), step)
                add("train/update_time_s", update_s, step)
                if episodes:
                    ep = np.array([(r, n, s, d) for _, r, n, s, d in episodes], dtype=np.float64)
                    ep_return, ep_len = float(ep[:, 0].mean()), float(ep[:, 1].mean())
                    writer.add_scalars("rollout", {"ep_return_mean": ep_return, "ep_len_mean": ep_len,
                                                   "episode_length_mean": ep_len, "success_rate": float(ep[:, 2].mean()),
                                                   "final_distance_m": float(ep[:, 3].mean())}, step)
                    if math.isnan(first_return):
                        first_return = ep_return
                    last_return = ep_return
                for key in ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction",
                            "explained_variance", "action_std", "epochs"):
                    add(f"train/{key}", stats[key], step)
                add("train/learning_rate", trainer.opt.param_groups[0]["lr"], step)
                if curve:
                    if episodes:
                        curve.write(f"{iteration},{t2 - started:.3f},{step},{trainer.episodes},{ep_return:.4f},"
                                    f"{ep_len:.2f},{ep[:, 2].mean():.4f},{ep[:, 3].mean():.4f},"
                                    f"{stats['reward_mean']:.5f},{stats['policy_loss']:.5f},{stats['value_loss']:.5f},"
                                    f"{stats['approx_kl']:.5f},{stats['action_std']:.4f}\n")
                    curve.flush()
                logging_s = time.monotonic() - t2
                writer.add_scalars("time", {"env_s": env_s, "update_s": update_s, "logging_s": logging_s,
                                            "waiting_s": waiting_s}, step)
                iteration += 1
            if args.save:
                torch.save(trainer.model.state_dict(), args.save)
    finally:
        pool.close()
        if curve:
            curve.close()
    print(f"trainer: {iteration} iterations, {trainer.env_steps} env steps, {trainer.episodes} episodes, "
          f"return {first_return:.2f} -> {last_return:.2f}, {pool.restarts} worker restarts"
          + (f" (stopped by {stopped_by})" if stopped_by else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
