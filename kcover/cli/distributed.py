"""Joining a multi-process (multi-host) run from the command line, on JAX's distributed runtime.

    kcover select ... --coordinator HOST:PORT --num-processes P --process-id I
    kcover select ... --distributed          # Slurm, Open MPI, Cloud TPU, Kubernetes: JAX detects the rest

Every process runs the same command (with its own ``--process-id``); process 0 also hosts the
coordinator at ``--coordinator``. Facility location then runs with the targets sharded over every
process's devices (:func:`kcover.facility_location_sharded`) and every process gets the same
picks; only process 0 writes ``--out`` unless ``--all-processes-write`` is given. ``{process}``
in a path (``--out``, ``--targets``) is replaced by the process id. On the CPU the processes talk
through gloo. A process that dies, or does not join within ``--init-timeout``, stops the others
(after ``--heartbeat-timeout`` seconds) instead of leaving them hanging. See docs/distributed.md.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import socket
import sys
from collections.abc import Iterator
from typing import Any, overload

import jax

from kcover.selection.auto import auto_plan
from kcover.selection.entry import select as select_one
from kcover.selection.facility_rules import METHODS as FL_METHODS
from kcover.selection.result import Selection
from kcover.selection.sharding import facility_location_sharded, target_mesh

PROCESS = "{process}"  # replaced by the process id in --out and --targets


def add_distributed_args(parser: argparse.ArgumentParser) -> None:
    """Add the options that join a distributed run (an argument group of ``parser``)."""
    g = parser.add_argument_group(
        "distributed run", "start the same command in every process (one per host); see docs/distributed.md"
    )
    for flag, metavar, text in (
        (
            "--coordinator",
            "HOST:PORT",
            "address of process 0, which hosts the coordinator (default: $JAX_COORDINATOR_ADDRESS "
            "or the cluster's); giving it joins a distributed run",
        ),
        ("--num-processes", "P", "number of processes in the run"),
        ("--process-id", "I", "this process's id, 0 <= I < P"),
    ):
        g.add_argument(flag, default=None, metavar=metavar, help=text)
    g.add_argument(
        "--distributed",
        action="store_true",
        help="join a distributed run, taking what is not given from the cluster environment "
        "(Slurm, Open MPI, Cloud TPU, Kubernetes; JAX_COORDINATOR_ADDRESS)",
    )
    g.add_argument(
        "--init-timeout", default="300", metavar="S", help="seconds to wait for every process to join (default 300)"
    )
    g.add_argument(
        "--heartbeat-timeout",
        default="100",
        metavar="S",
        help="seconds of silence after which a process counts as dead and every process stops (default 100)",
    )
    g.add_argument(
        "--local-targets",
        action="store_true",
        help="--targets holds only this process's rows (e.g. T.{process}.npy); the targets are "
        "every process's rows in process order",
    )
    g.add_argument(
        "--all-processes-write",
        action="store_true",
        help="every process writes --out, not only process 0 (use {process} in the path on a shared file system)",
    )


def _positive_int(value: Any, name: str, low: int = 1) -> int:
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be an integer, got {value!r}") from None
    if out < low:
        raise ValueError(f"{name}: must be at least {low}, got {out}")
    return out


def wants_to_join(args: argparse.Namespace) -> bool:
    """Whether the options ask to join a distributed run."""
    return bool(args.distributed or args.coordinator or args.num_processes is not None or args.process_id is not None)


def _check_port_free(coordinator: str) -> None:
    """On process 0: raise if another program already listens on the coordinator's port."""
    host, _, port_text = coordinator.rpartition(":")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"--coordinator: must be HOST:PORT, got {coordinator!r}")
    for family, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        try:
            s = socket.socket(family, socket.SOCK_STREAM)
        except OSError:  # no IPv6 on this host
            continue
        with s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed run's TIME_WAIT is no clash
            try:
                s.bind((addr, int(port_text)))
            except OSError as err:
                if err.errno == errno.EADDRINUSE:
                    raise ValueError(
                        f"--coordinator: port {port_text} is already in use on this host; pick a "
                        "free port (the same in every process)"
                    ) from None


def join(args: argparse.Namespace) -> bool:
    """Join the distributed run the options ask for; returns whether one was joined.

    Must run before any JAX computation. Sets CPU collectives to gloo (used only when the
    devices are CPUs) and calls ``jax.distributed.initialize`` with ``--init-timeout`` and
    ``--heartbeat-timeout``. Raises ValueError naming the option on bad values or when process 0
    cannot host the coordinator.
    """
    if not wants_to_join(args):
        if args.local_targets or args.all_processes_write:
            flag = "--local-targets" if args.local_targets else "--all-processes-write"
            raise ValueError(
                f"{flag}: only in a distributed run (--coordinator, --num-processes, --process-id or --distributed)"
            )
        return False
    n = None if args.num_processes is None else _positive_int(args.num_processes, "--num-processes")
    pid = None if args.process_id is None else _positive_int(args.process_id, "--process-id", 0)
    if n is not None and pid is not None and pid >= n:
        raise ValueError(f"--process-id: must be below --num-processes ({n}), got {pid}")
    init_timeout = _positive_int(args.init_timeout, "--init-timeout")
    heartbeat = _positive_int(args.heartbeat_timeout, "--heartbeat-timeout")
    if pid == 0 and args.coordinator:
        _check_port_free(args.coordinator)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    where = args.coordinator or "the coordinator"
    print(
        f"kcover: process {'?' if pid is None else pid} of {'?' if n is None else n} joining the run at "
        f"{where} (gives up after {init_timeout} s)",
        file=sys.stderr,
        flush=True,
    )
    try:
        jax.distributed.initialize(
            coordinator_address=args.coordinator,
            num_processes=n,
            process_id=pid,
            initialization_timeout=init_timeout,
            heartbeat_timeout_seconds=heartbeat,
        )
    except (ValueError, TypeError, RuntimeError) as err:  # JaxRuntimeError is a RuntimeError
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        if "Failed to start RPC server" in msg:
            msg = f"process 0 cannot host the coordinator at {args.coordinator} (port in use?): {msg}"
        raise ValueError(f"--coordinator: cannot join the distributed run ({msg})") from err
    return True


@overload
def process_path(path: str, joined: bool) -> str: ...
@overload
def process_path(path: None, joined: bool) -> None: ...
def process_path(path: str | None, joined: bool) -> str | None:
    """``path`` with ``{process}`` replaced by this process's id (in a distributed run)."""
    if path is None or not joined:
        return path
    return path.replace(PROCESS, str(jax.process_index()))


def writes_output(args: argparse.Namespace, joined: bool) -> bool:
    """Whether this process writes ``--out``: always alone, process 0 (or every one if asked) in a run."""
    return not joined or args.all_processes_write or jax.process_index() == 0


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send what native code prints to stdout (gloo's connection lines) to stderr, so --json stays one line."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def select_rows(joined: bool, local_targets: bool, x: Any, k: int, **options: Any) -> Selection:
    """:func:`kcover.select`, or in a distributed run facility location sharded over every process's devices.

    ``x`` (N, d) and ``options`` as :func:`kcover.select`; ``local_targets``: ``options["targets"]``
    holds only this process's rows (facility location in a distributed run only).
    """
    method = options.get("method", "lazy")
    scaled = any(options.get(o) is not None for o in ("targets_sketch", "partitions"))
    if joined and method == "auto" and not scaled:  # exact under the budget: the sharded run, as lazy
        t = options.get("targets")
        t = x.shape[0] if t is None else t.shape[0] * (jax.process_count() if local_targets else 1)
        plan = auto_plan(x.shape[0], t, x.shape[1], k, exact=bool(options.get("exact")), processes=jax.process_count())
        if plan.targets_sketch is None and plan.partitions == 1:
            rest = {o: v for o, v in options.items() if o not in ("method", "exact")}
            sel = select_rows(joined, local_targets, x, k, method="lazy", **rest)
            return sel._replace(info={**sel.info, "method": "lazy", "approximation": None, "reason": plan.reason})
    if joined and method in FL_METHODS and not scaled:
        with _stdout_to_stderr():
            return facility_location_sharded(
                x, k, mesh=target_mesh(jax.devices()), local_targets=local_targets, **options
            )
    if local_targets:
        raise ValueError(f"--local-targets: needs a facility-location method ({', '.join(FL_METHODS)}), not {method}")
    return select_one(x, k, **options)
