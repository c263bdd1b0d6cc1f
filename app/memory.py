"""Giving memory back to the system once a burst of large requests is over.

A 4 MiB batch allocates its body, its parsed items and its answer. CPython frees them, but
glibc's allocator keeps most freed memory in its arenas for later use, so a process that
served a burst of batches would stay at its peak size for good. `release_memory` asks
glibc to return what it holds free (malloc_trim); elsewhere it does nothing.
"""

import ctypes
import ctypes.util
import logging

logger = logging.getLogger(__name__)


def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim, libc.mallopt  # noqa: B018
    except (OSError, AttributeError):  # not glibc
        return None
    return libc


_LIBC = _glibc()
_M_ARENA_MAX = -8


def limit_arenas() -> None:
    """At most two allocator arenas: each worker thread would otherwise get its own, and
    memory freed in one cannot serve another."""
    if _LIBC is not None:
        _LIBC.mallopt(_M_ARENA_MAX, 2)


def release_memory() -> None:
    """Return the allocator's free memory to the system (blocking: a worker thread)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
