"""Running statistics (numpy only)."""

from __future__ import annotations

import numpy as np


class RunningMeanStd:
    """Running mean and variance over the leading axis of the batches passed to :meth:`update`.

    Batches are merged with the parallel formula of Chan, Golub and LeVeque (1979), which for a batch
    of one is Welford's update. The statistics start from ``count = epsilon`` pseudo-samples of mean 0
    and variance ``var`` (1 by default, as in OpenAI's baselines, so early standardisation is mild;
    0 gives the plain sample variance from the first batch on).

    Examples:
        >>> rms = RunningMeanStd(var=0.0)
        >>> rms.update(np.array([1.0, 2.0, 3.0]))
        >>> round(float(rms.mean), 3), round(float(rms.var), 3)
        (2.0, 0.667)
    """

    def __init__(self, shape: tuple[int, ...] = (), epsilon: float = 1e-4, var: float = 1.0):
        self.mean = np.zeros(shape, dtype=np.float64)
        self.var = np.full(shape, float(var), dtype=np.float64)
        self.count = epsilon

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64)
        if x.shape[0] == 0:
            return
        batch_mean, batch_var, n = x.mean(axis=0), x.var(axis=0), x.shape[0]
        delta = batch_mean - self.mean
        total = self.count + n
        self.mean = self.mean + delta * n / total
        m2 = self.var * self.count + batch_var * n + delta**2 * self.count * n / total
        self.var = m2 / total
        self.count = total

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.var + 1e-8)
