"""Process-wide memory settings of a running server: big blocks go back to the system
when freed. Called once by the runtime before it serves; a new setting goes here.
"""

from __future__ import annotations

import ctypes

M_MMAP_THRESHOLD = -3  # glibc's malloc.h
BIG_BLOCK = 1024 * 1024


def return_big_blocks() -> bool:
    """Have glibc map every block of BIG_BLOCK octets or more on its own, and unmap it
    when freed (mallopt(3) M_MMAP_THRESHOLD); False where that cannot be set.

    By default glibc raises this threshold to the largest block freed so far (up to 32
    MiB) and serves later ones from per-thread arenas, which keep what is freed: each
    thread of the services' pool that once handled a big message kept its size for good
    (six 15 MiB messages through SMTP, one at a time but in several threads, left a peak
    of 62 to 124 MiB instead of 29). A fixed threshold ends that adjustment.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the process runs on
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, BIG_BLOCK))
