"""Offline: for each user of a finished adapt_bench run, which threshold for refit.pt transfers best to the
later sessions? T_twin = best.pt's (what ships), T_dev = refit's own EER threshold on dev (centred),
T_all = refit's own on train + dev (centred), T_mid = logit mean of twin and all.

Usage: python scripts/refit_threshold_study.py RUN  (RUN: an adapt_bench --out folder, its users' run folders kept)
Scores refit.pt on each user's recordings (their cache), so it takes a few seconds per user; nothing is trained.
Four rules compared on the same users: a post-hoc comparison, to be confirmed by a run of its own."""
import json, sys
from pathlib import Path
import numpy as np
from scipy.special import logit, expit
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from training import metrics as M
from training.adapt import judge
from training.calibrate import score_samples
from training.prepare import load_samples
from training.splits import split_by_session
from training.config import FINETUNE

run = Path(sys.argv[1])
res = json.loads((run / "adapt.json").read_text())
rows = []
for u in res["users"]:
    d = run / "users" / u["group"]
    samples, _ = load_samples([str(d / "recordings.csv")])
    train, dev = split_by_session(samples, FINETUNE["dev_fraction"])
    refit = d / "run" / "refit.pt"
    sc = np.load(d / "scores.npz")
    later_s, later_l = sc["later_adapted"], sc["later_labels"]
    s_dev, l_dev, meta = score_samples(refit, dev, cache_dir=d / "cache", device="cpu")
    s_tr, l_tr, _ = score_samples(refit, train, cache_dir=d / "cache", device="cpu")
    def own(s, l):
        cal = M.calibrate(s, l)
        return M.centred_threshold(s, cal["eer_threshold"]) if cal["eer_threshold"] is not None else 0.5
    t = {"twin": meta.threshold, "dev": own(s_dev, l_dev),
         "all": own(np.concatenate([s_tr, s_dev]), list(l_tr) + list(l_dev))}
    t["mid"] = float(expit((logit(np.clip(t["twin"], 1e-6, 1-1e-6)) + logit(np.clip(t["all"], 1e-6, 1-1e-6))) / 2))
    before = u["before"]["acer"]
    row = {"group": u["group"], "before": before}
    for k, v in t.items():
        a = judge(later_s, later_l, v)["acer"]
        row[k] = (round(100 * a, 1), round(v, 4), a <= min(0.5 * before, 0.05))
    rows.append(row)
    print(row, flush=True)
for k in ("twin", "dev", "all", "mid"):
    met = sum(r[k][2] for r in rows)
    print(k, "target met", met, "/", len(rows), "median ACER", np.median([r[k][0] for r in rows]))
