"""Measuring on a shared machine: peak memory of a block (the kernel's RSS high-water mark on
CPU, peak allocated on a GPU) and the machine's plain fp32 matmul throughput, the yardstick of
every "fraction of matmul" the bench reports."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Self

import torch


def _malloc_trim() -> None:
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the measure is then an upper bound of reuse
        pass


class PeakMemory:
    """Peak memory growth inside a `with` block, in MiB: CUDA peak allocated on a GPU; on CPU the
    kernel's RSS high-water mark (VmHWM), reset on entry through /proc/self/clear_refs, so even a
    tensor that lives for a microsecond is counted (torch's CPU allocator is invisible to
    tracemalloc). Where the reset is not allowed, RSS is sampled every 2 ms instead, which can
    miss short peaks. Freed heap is handed back to the OS first, so memory freed by an earlier
    phase is not reused unseen."""

    def __init__(self, device: str = "cpu"):
        self.cuda = device.startswith("cuda")
        self.peak_mib = 0.0
        self.exact = False  # True when the kernel high-water mark was used

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096

    @staticmethod
    def _hwm() -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        raise OSError("no VmHWM in /proc/self/status")

    @classmethod
    def _reset_hwm(cls) -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # 5 = reset the peak RSS to the current RSS (Linux >= 4.0)
            return cls._hwm() <= cls._rss() + 2**20
        except OSError:
            return False

    def __enter__(self) -> Self:
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self._start = torch.cuda.memory_allocated()
            return self
        _malloc_trim()
        self.exact = self._reset_hwm()
        self._start = self._peak = self._rss()
        self._stop = threading.Event()
        self._thread = None
        if not self.exact:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self._peak = max(self._peak, self._rss())

    def __exit__(self, *exc) -> None:
        if self.cuda:
            torch.cuda.synchronize()
            self.peak_mib = (torch.cuda.max_memory_allocated() - self._start) / 2**20
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        peak = self._hwm() if self.exact else max(self._peak, self._rss())
        self.peak_mib = (peak - self._start) / 2**20


def matmul_gflops(
    n: int = 1024, repeats: int = 8, device: str = "cpu", clock: Callable[[], float] = time.perf_counter
) -> float:
    """Plain fp32 matmul throughput (n x n @ n x n, best of `repeats`) with the current threads."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    best = float("inf")
    for _ in range(repeats + 1):  # +1: the first call warms up
        t0 = clock()
        torch.mm(a, b)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, clock() - t0)
    return 2 * n**3 / best / 1e9
