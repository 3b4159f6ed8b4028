"""Explicit randomness.

Seeds enter as ``int | numpy.random.Generator | None`` at the boundary.
Monte Carlo work is split into fixed-size *blocks* of paths; block ``b`` always
draws from ``SeedSequence(seed).spawn``-equivalent child ``b``, so chunk sizes
and worker counts never change a number.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SeedLike", "as_generator", "block_generator", "block_seed_sequence"]

SeedLike = int | np.random.Generator | np.random.SeedSequence | None


def as_generator(seed: SeedLike) -> np.random.Generator:
    """Return a Generator for ``seed`` (an existing Generator is returned as is)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def block_seed_sequence(seed: int, block: int, *, stream: int = 0) -> np.random.SeedSequence:
    """The SeedSequence of path block ``block`` (and sub-stream ``stream``) under ``seed``.

    Equivalent to ``SeedSequence(seed).spawn(block + 1)[block]`` but O(1): the
    spawn key is set directly, so any worker can build any block's stream.
    """
    if seed < 0 or block < 0 or stream < 0:
        raise ValueError("seed, block and stream must be >= 0")
    return np.random.SeedSequence(seed, spawn_key=(block, stream) if stream else (block,))


def block_generator(seed: int, block: int, *, stream: int = 0) -> np.random.Generator:
    """A PCG64 Generator for one path block; see :func:`block_seed_sequence`."""
    return np.random.Generator(np.random.PCG64(block_seed_sequence(seed, block, stream=stream)))
