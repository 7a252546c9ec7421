"""JAX test helpers shared by test modules."""

from __future__ import annotations

import contextlib

import jax


@contextlib.contextmanager
def count_compiles():
    """Collect one entry per XLA backend compilation inside the block."""
    events: list[str] = []

    def listener(name: str, *args, **kwargs) -> None:
        if name == "/jax/core/compile/backend_compile_duration":
            events.append(name)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield events
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
