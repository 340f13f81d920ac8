"""The issue's Done-when checks on real drawings: --quick h5, h2 and h4 launched, their records and
analysis.json held to what the issue asks. Usage: python benchmarks/fidelity_checks.py (QD_DATA_DIR picks the data)."""

import json, os, subprocess, sys

import numpy as np

D = os.environ.get("QD_DATA_DIR", "../shared/data/quickdraw"); TEN = "airplane,cat,rainbow,dog,smiley face,clock,bird,flower,house,skull"
def launch(h, cats, wd):
    subprocess.run([sys.executable, "-m", "qd_jax.launch", f"--hypothesis={h}", "--quick", f"--data_dir={D}",
                    f"--categories={cats}", f"--workdir={wd}"], check=True, capture_output=True)
    runs = [json.loads(l) for l in open(f"{wd}/runs.jsonl")]
    return runs, json.load(open(f"{wd}/analysis.json")), open(f"{wd}/REPORT.md").read()
runs, a, md = launch("h5", TEN, "/tmp/dw5")
ks, ns = sorted({r["num_categories"] for r in runs}), sorted({r["rows_per_category"] for r in runs})
print("h5 --quick: k =", ks, "n =", ns, "runs", len(runs))
X = np.column_stack([np.ones(len(runs)), [r["num_categories"] for r in runs], [r["rows_per_category"] for r in runs]])
for resp in ("test_accuracy", "test_loss"):
    beta = np.linalg.lstsq(X, [r[resp] for r in runs], rcond=None)[0]
    rows = [r for r in a["ols"] if r["response"] == resp and r.get("per") == "run" and r.get("cov_type") == "HC3"]
    got = [next(r["coef"] for r in rows if r["regressor"] == t) for t in ("const", "num_categories", "rows_per_category")]
    print(f"  {resp}: formula {rows[0]['formula']!r}; coef {np.round(got, 8).tolist()} lstsq {np.round(beta, 8).tolist()} max diff {np.max(np.abs(np.array(got) - beta)):.2e}")
print("  REPORT.md quotes 1.601e-05:", "1.601e-05" in md, "and 0.0649:", "0.0649" in md)
runs, a, md = launch("h2", TEN, "/tmp/dw2")
bad = 0
for row in a["time_to_accuracy"]:
    h = next(r for r in runs if r["model"] == row["model"] and r["seed"] == row["seed"])["epochs"]
    first = next((e["epoch"] for e in h if e["val_accuracy"] >= row["target"]), None)
    secs = None if first is None else sum(e["seconds"] for e in h[:first])
    bad += row["epochs"] != first or (secs is None) != (row["seconds"] is None) or (secs is not None and abs(secs - row["seconds"]) > 1e-9)
print(f"h2 --quick: {len(a['time_to_accuracy'])} time_to_accuracy rows, {bad} disagree with the runs' per-epoch records")
runs, a, md = launch("h4", "airplane,cat", "/tmp/dw4")
print("h4 --quick: arms", sorted({r["point"]["augmentation"] for r in runs}), "runs", len(runs), "; REPORT.md quotes 43%:", "43%" in md)
