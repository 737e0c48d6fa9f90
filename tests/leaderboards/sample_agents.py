"""Agents with known misbehaviour, loaded by path from the leaderboard tests (no tests in here)."""

import os
import time

from sparsegym.errors import ServiceUnavailableError


class _Base:
    def __init__(self, env, **kwargs):
        self.kwargs = kwargs
        self.seed = None
        self.t = 0

    def reset(self, seed):
        self.seed, self.t = seed, 0


class Forward(_Base):
    """Deterministic: always 'go forward' (2)."""

    def act(self, obs, info):
        self.t += 1
        return 2


class RaisesOnEvenSeeds(_Base):
    def act(self, obs, info):
        if self.seed % 2 == 0 and self.t == 3:
            raise RuntimeError("boom on an even seed")
        self.t += 1
        return 2


class HangsOnSeedZero(_Base):
    def act(self, obs, info):
        self.t += 1
        if self.seed % 10 == 0 and self.t == 2:
            time.sleep(30)
        return 1


class InvalidAction(_Base):
    def act(self, obs, info):
        return 99


class Slow(_Base):
    def act(self, obs, info):
        time.sleep(0.002)
        return 0


class NoAct:
    def __init__(self, env):
        pass

    def reset(self, seed):
        pass


class DiesOnSeedOne(_Base):
    """Kills its own process (as a segfault would) on seed 1."""

    def act(self, obs, info):
        self.t += 1
        if self.seed == 1 and self.t == 2:
            os._exit(3)
        return 2


class TextWalker(_Base):
    """A text agent: needs string observations; walks forward, turning left every third step, choosing
    among ``info["admissible_actions"]``."""

    def act(self, obs, info):
        if not isinstance(obs, str):
            raise TypeError(f"TextWalker reads text observations, got {type(obs).__name__}")
        self.t += 1
        wanted = "turn left" if self.t % 3 == 0 else "go forward"
        actions = info.get("admissible_actions") or [wanted]
        return wanted if wanted in actions else actions[0]


class FromFile(_Base):
    """Reads its action index from the file named by ``path`` (a stand-in for a checkpoint); other options
    are taken and ignored (the identity tests vary them)."""

    def __init__(self, env, path, **options):
        super().__init__(env)
        with open(path) as f:
            self.action = int(f.read().strip() or 2)

    def act(self, obs, info):
        return self.action


_SERVERS: dict = {}  # event loop id -> the lock of its one "server"


class QueuesOnOneServer(_Base):
    """An async agent whose first action waits its turn on one server (0.2 s a call, one call at a
    time), as LLM agents wait on a shared model server; later actions are instant."""

    async def aact(self, obs, info):
        import asyncio

        self.t += 1
        if self.t == 1:
            lock = _SERVERS.setdefault(id(asyncio.get_running_loop()), asyncio.Lock())
            async with lock:
                await asyncio.sleep(0.2)
        return 2  # forward

    def act(self, obs, info):
        raise AssertionError("the async backend awaits aact")


class HangsAsyncOnSeedZero(_Base):
    async def aact(self, obs, info):
        import asyncio

        self.t += 1
        if self.seed % 10 == 0 and self.t == 2:
            await asyncio.sleep(30)
        return 1

    def act(self, obs, info):
        raise AssertionError("the async backend awaits aact")


class ServiceDown(ServiceUnavailableError):
    pass


class ServiceDownOnSeedTwo(_Base):
    """Its 'service' is down at step 3 of seed 2 (a ServiceUnavailableError) until the environment variable
    named by ``up`` is set: the evaluation must stop there, store nothing for that episode, and resume once
    it is set. (Not a file: a file named by the kwargs is hashed into the run's identity.)"""

    def _step(self):
        self.t += 1
        if self.seed == 2 and self.t == 3 and not os.environ.get(self.kwargs["up"]):
            raise ServiceDown("the fake service is down")
        return 2

    def act(self, obs, info):
        return self._step()

    async def aact(self, obs, info):
        return self._step()


def make_with_options(env, speed, *, mode="fast"):
    """A factory with named options (a required one, a keyword-only one): kwargs that do not fit are refused
    before any episode runs."""
    agent = Forward(env)
    agent.speed, agent.mode = speed, mode
    return agent
