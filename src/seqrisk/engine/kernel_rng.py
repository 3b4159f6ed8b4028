"""Random numbers inside the compiled kernel (Numba; imported on first use, never by ``import seqrisk``).

Each (block, stream) of paths gets the state NumPy's
``SeedSequence(seed, spawn_key=(block, stream)).generate_state(4, uint64)``
would give (the seeding of :mod:`seqrisk.rng`, recomputed in compiled code
because SeedSequence costs tens of microseconds per block in Python), and
draws from xoshiro256** with it. Uniforms are 53-bit; normals come from the
polar method. The kernel does not share NumPy's streams: the vectorised twin
and the kernel agree in distribution, not path by path.
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint32, uint64

__all__ = ["SEED_SCRATCH", "entropy_words", "normal", "seed_state", "seed_state_into", "uniform"]

_INIT_A = uint32(0x43B0D7E5)
_MULT_A = uint32(0x931E8875)
_INIT_B = uint32(0x8B51F9DD)
_MULT_B = uint32(0x58F38DED)
_MIX_L = uint32(0xCA01F9DD)
_MIX_R = uint32(0x4973F715)
_POOL = 4


def entropy_words(value: int) -> np.ndarray:
    """An integer as NumPy's SeedSequence reads it: little-endian 32-bit words (at least one)."""
    words = []
    while True:
        words.append(value & 0xFFFFFFFF)
        value >>= 32
        if value == 0:
            break
    return np.array(words, dtype=np.uint32)


@njit(cache=True, inline="always")
def _hashmix(value: np.uint32, hc: np.ndarray) -> np.uint32:
    value = uint32(value ^ hc[0])
    hc[0] = uint32(hc[0] * _MULT_A)
    value = uint32(value * hc[0])
    return uint32(value ^ (value >> uint32(16)))


@njit(cache=True, inline="always")
def _mix(x: np.uint32, y: np.uint32) -> np.uint32:
    r = uint32(uint32(_MIX_L * x) - uint32(_MIX_R * y))
    return uint32(r ^ (r >> uint32(16)))


@njit(cache=True)
def _int_words(v: int, out: np.ndarray, at: int) -> int:
    x = uint64(v)
    while True:
        out[at] = uint32(x & uint64(0xFFFFFFFF))
        at += 1
        x = x >> uint64(32)
        if x == 0:
            return at


#: uint32 words of scratch :func:`seed_state_into` needs beyond the seed's own words
SEED_SCRATCH = 2 * _POOL + 4 + 1 + 8


@njit(cache=True)
def seed_state(run_words: np.ndarray, block: int, stream: int, state: np.ndarray) -> None:
    """Fill ``state`` (4 uint64) as ``SeedSequence(seed, spawn_key=(block, stream) if stream else (block,))
    .generate_state(4, uint64)``; ``run_words`` are the seed's :func:`entropy_words`."""
    seed_state_into(run_words, block, stream, state, np.zeros(len(run_words) + SEED_SCRATCH, np.uint32))


@njit(cache=True)
def seed_state_into(run_words: np.ndarray, block: int, stream: int, state: np.ndarray, scratch: np.ndarray) -> None:
    """:func:`seed_state` with its work arrays in ``scratch`` (uint32, at least ``len(run_words) + SEED_SCRATCH``
    words): it allocates nothing, so the kernel compiled without Numba's reference counting can call it."""
    m = len(run_words) + _POOL + 4
    ent = scratch[:m]
    pool = scratch[m:m + _POOL]
    hc = scratch[m + _POOL:m + _POOL + 1]
    words = scratch[m + _POOL + 1:m + _POOL + 9]
    ent[:] = 0
    pool[:] = 0
    n = 0
    for w in run_words:
        ent[n] = w
        n += 1
    while n < _POOL:  # run entropy padded to the pool size when a spawn key follows
        n += 1
    n = _int_words(block, ent, n)
    if stream:
        n = _int_words(stream, ent, n)
    hc[0] = _INIT_A
    for i in range(_POOL):
        pool[i] = _hashmix(ent[i] if i < n else uint32(0), hc)
    for i_src in range(_POOL):
        for i_dst in range(_POOL):
            if i_src != i_dst:
                pool[i_dst] = _mix(pool[i_dst], _hashmix(pool[i_src], hc))
    for i_src in range(_POOL, n):
        for i_dst in range(_POOL):
            pool[i_dst] = _mix(pool[i_dst], _hashmix(ent[i_src], hc))
    h = _INIT_B
    for i in range(8):
        d = uint32(pool[i % _POOL] ^ h)
        h = uint32(h * _MULT_B)
        d = uint32(d * h)
        words[i] = uint32(d ^ (d >> uint32(16)))
    for i in range(4):
        state[i] = uint64(words[2 * i]) | (uint64(words[2 * i + 1]) << uint64(32))
    state[4] = 0  # no spare normal


@njit(cache=True, inline="always")
def _rotl(x: np.uint64, k: int) -> np.uint64:
    return (x << uint64(k)) | (x >> uint64(64 - k))


@njit(cache=True, inline="always")
def _next(s: np.ndarray) -> np.uint64:
    result = _rotl(s[1] * uint64(5), 7) * uint64(9)
    t = s[1] << uint64(17)
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return result


@njit(cache=True, inline="always")
def uniform(s: np.ndarray) -> float:
    """A uniform on [0, 1) with 53 random bits."""
    return float(_next(s) >> uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always")
def normal(s: np.ndarray, spare: np.ndarray) -> float:
    """A standard normal (polar method; the second value of each pair is kept in ``spare``)."""
    if s[4] != 0:
        s[4] = 0
        return spare[0]
    while True:
        u = 2.0 * uniform(s) - 1.0
        v = 2.0 * uniform(s) - 1.0
        r = u * u + v * v
        if 0.0 < r < 1.0:
            f = np.sqrt(-2.0 * np.log(r) / r)
            spare[0] = v * f
            s[4] = 1
            return u * f
