import numpy as np, sparsegym, time
from sparsegym.agents.bandits import DynLinUCB, LinUCB, DynLinOracle, ISICombUCB1, LSDPlanner, LSDLPPlanner
from sparsegym.baselines import RandomAgent
def play(env_id, mk, seed=0, **kw):
    env = sparsegym.make(env_id, **kw); a = mk(env); a.reset(seed); obs, info = env.reset(seed=seed)
    while True:
        obs, _, te, tr, info = env.step(a.act(obs, info))
        if te or tr: return info
for eid in ["sparsegym/DynLinBandit-Rho03-v0","sparsegym/DynLinBandit-Rho07-v0","sparsegym/DynLinBandit-Rho09-v0","sparsegym/DynLinBandit-Continuous-Rho07-v0"]:
    print(eid, [round(play(eid, m, 0)["cumulative_pseudo_regret"],1) for m in (RandomAgent, DynLinUCB, lambda e: DynLinUCB(e, schedule="fixed"), LinUCB)])
t0=time.time()
eid="sparsegym/DynLinBandit-Mussi2023-v0"
print(eid, [round(play(eid, m, 0, horizon=20000)["cumulative_pseudo_regret"],1) for m in (RandomAgent, DynLinUCB, LinUCB, DynLinOracle)], time.time()-t0)
for eid in ["sparsegym/LSDBandit-Recharging-v1","sparsegym/LSDBandit-Monotone-v1"]:
    t0=time.time()
    print(eid, [round(play(eid, m, 0)["regret"],1) for m in (RandomAgent, ISICombUCB1, LSDLPPlanner, lambda e: LSDPlanner(e,"greedy"))], time.time()-t0)
