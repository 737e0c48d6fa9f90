"""A template agent for `sparsegym submit examples/my_agent.yaml`: turn towards nothing in particular,
mostly walk forward, and toggle or pick up what is in front. Replace the body of `act` with yours."""

import numpy as np


class Agent:
    def __init__(self, env, forward_prob: float = 0.6):
        self.n = env.action_space.n
        self.forward_prob = forward_prob
        self.rng = np.random.default_rng()

    def reset(self, seed):
        self.rng = np.random.default_rng(seed)

    def act(self, observation, info):
        if self.rng.random() < self.forward_prob:
            return 2  # go forward
        return int(self.rng.choice([0, 1, 3, 5]))  # turn left/right, pick up, toggle


def make_agent(env, **kwargs):
    return Agent(env, **kwargs)
