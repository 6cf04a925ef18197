#!/usr/bin/env python3
"""A PPO-like trainer loop that publishes its KPIs as fleetscope telemetry.

Each iteration collects a rollout from a batch of simulated environments (batched policy
inference), runs a few epochs of minibatch updates (real NumPy matrix work, so update time and
CPU use are measured, not invented), logs, and paces itself. Reward and episode length rise with
noise as the policy "learns". Every figure the viewer shows for this trainer is measured here or
follows from the simulated environments' step counts.

Run:  PYTHONPATH=build/python python3 sim_bridge/examples/ppo_trainer.py --seconds 30
Then: build/ipc/fleetscope-shm inspect trainer   (or open the viewer's Trainer panel)
"""
import argparse
import math
import os
import signal
import time

import numpy as np

import fleetscope

stop = False


def request_stop(*_):
    global stop
    stop = True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", default="trainer", help="segment name (default: trainer)")
    parser.add_argument("--seconds", type=float, default=0.0, help="run time; 0 = until SIGTERM/SIGINT")
    parser.add_argument("--envs", type=int, default=64, help="environments stepped per inference call")
    parser.add_argument("--horizon", type=int, default=128, help="steps per environment per rollout")
    parser.add_argument("--iterations-per-s", type=float, default=2.0, help="pace of training iterations")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.envs < 1 or args.horizon < 1 or args.iterations_per_s <= 0:
        parser.error("--envs, --horizon and --iterations-per-s must be positive")
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    rng = np.random.default_rng(args.seed)
    hidden = 128
    weights = rng.normal(scale=0.05, size=(hidden, hidden))
    batch = rng.normal(size=(args.envs * args.horizon // 32, hidden))
    env_steps = 0
    episodes = 0
    period = 1.0 / args.iterations_per_s
    started = time.monotonic()
    log_path = os.path.join("/tmp", f"fleetscope-{args.name}-{os.getpid()}.log")

    with fleetscope.TelemetryWriter(args.name) as telemetry, open(log_path, "w") as log:
        iteration = 0
        next_tick = time.monotonic()
        while not stop and (args.seconds <= 0 or time.monotonic() - started < args.seconds):
            t0 = time.monotonic()
            cpu0 = time.process_time()
            progress = 1.0 - math.exp(-iteration / 150.0)

            # Rollout: batched inference over the environments, the environments step meanwhile.
            calls = 0
            batch_sizes = []
            for _ in range(args.horizon // 16):
                ready = int(rng.integers(max(1, args.envs * 3 // 4), args.envs + 1))  # async: some envs lag
                obs = rng.normal(size=(ready, hidden))
                np.tanh(obs @ weights)
                batch_sizes.append(ready)
                calls += 1
            time.sleep(period * 0.35)  # waiting on the environment workers' results
            steps_now = args.envs * args.horizon
            env_steps += steps_now
            episode_length = 60 + 340 * progress + rng.normal(0, 12)
            episodes_now = steps_now / max(episode_length, 1.0)
            episodes += episodes_now
            t_env = time.monotonic() - t0

            # Update: a few epochs of minibatch matrix work (the real cost of this process).
            t1 = time.monotonic()
            for _ in range(3):
                grad = batch.T @ np.tanh(batch @ weights) / len(batch)
                weights -= 1e-3 * grad
            t_update = time.monotonic() - t1

            reward = -40 + 290 * progress + rng.normal(0, 10 + 15 * (1 - progress))
            policy_loss = 0.05 * (1.2 - progress) + abs(rng.normal(0, 0.01))
            value_loss = 40 * (1.05 - progress) ** 2 + abs(rng.normal(0, 2))
            entropy = 1.4 * (1 - 0.7 * progress) + rng.normal(0, 0.02)
            approx_kl = abs(rng.normal(0.012, 0.004))

            t2 = time.monotonic()
            elapsed = max(t2 - t0, 1e-6)
            cpu = (time.process_time() - cpu0) / elapsed * 100.0
            telemetry.scalars_at(env_steps, {
                "rollout/episodes_per_s": episodes_now / elapsed,
                "rollout/env_steps_per_s": steps_now / elapsed,
                "rollout/episode_length_mean": episode_length,
                "rollout/reward_mean": reward,
                "system/cpu_util_pct": cpu,
                "inference/batch_size": float(np.mean(batch_sizes)),
                "inference/calls_per_s": calls / elapsed,
                "train/update_time_s": t_update,
                "train/loss_policy": policy_loss,
                "train/loss_value": value_loss,
                "train/entropy": entropy,
                "train/approx_kl": approx_kl,
                "train/learning_rate": 3e-4 * max(0.05, 1 - iteration / 5000),
            })
            log.write(f"iter {iteration} steps {env_steps} reward {reward:.2f}\n")
            log.flush()
            t_logging = time.monotonic() - t2

            next_tick += period
            wait = max(0.0, next_tick - time.monotonic())
            if wait == 0.0:
                next_tick = time.monotonic()
            time.sleep(wait)
            telemetry.scalars_at(env_steps, {
                "time/env_s": t_env, "time/update_s": t_update,
                "time/logging_s": t_logging, "time/waiting_s": wait,
            })
            iteration += 1
    os.unlink(log_path)
    print(f"trainer: {iteration} iterations, {env_steps} env steps, {episodes:.0f} episodes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
