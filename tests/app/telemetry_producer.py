"""A telemetry producer with known values, for the dashboard tests.

Publishes fixed scalars, three worker rows whose pids are real child processes (worker 2 reports
once and then goes quiet, so it turns stalled), and two job rows; keeps refreshing workers 0
and 1 until SIGTERM. Prints "ready" once everything is published.
"""
import os
import signal
import sys
import time

import fleetscope

name = sys.argv[1]
stop = False


def request_stop(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, request_stop)
children = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:  # a worker process that just lives until killed
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        while True:
            time.sleep(1)
    children.append(pid)

with fleetscope.TelemetryWriter(name) as t:
    t.scalars_at(7, {"rollout/reward_mean": 42.5, "rollout/episodes_per_s": 12.4,
                     "system/cpu_util_pct": 55.0, "train/update_time_s": 0.0125})
    t.scalars("train/loss_policy", list(range(100, 600, 100)), [0.5, 0.4, 0.3, 0.2, 0.1])
    for k, tag in enumerate(["time/env_s", "time/update_s", "time/logging_s", "time/waiting_s"]):
        t.scalars(tag, [1, 2, 3], [0.1 * (k + 1)] * 3)
    t.job("mug_042", target_count=400, collected_count=120, rounds_done=3, rounds_failed=1, rounds_retried=1,
          gpu=1, last_seed=9001, state="running")
    t.job("bowl_007", target_count=200, collected_count=200, rounds_done=5, gpu=0, last_seed=9002, state="done")
    for i, pid in enumerate(children):
        t.worker(i, pid=pid, host=f"gpu{i}", state="running", chunk_size=16, steps=1000 * (i + 1),
                 steps_per_s=250.0, exec_s=0.004, ipc_s=0.001)
    print("ready", " ".join(str(p) for p in children), flush=True)
    steps = 0
    while not stop:
        steps += 16
        for i in (0, 1):
            t.worker(i, pid=children[i], host=f"gpu{i}", state="running", chunk_size=16, steps=1000 * (i + 1) + steps,
                     steps_per_s=250.0, exec_s=0.004, ipc_s=0.001)
        time.sleep(0.1)
for pid in children:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
