r"""H5: accuracy falls as categories are added, on the k x n grid that H6 shares.

    python -m qd_jax.launch --hypothesis=h5 \
        --data_dir=../shared/data/quickdraw \
        --categories=airplane,cat,rainbow,dog,smiley\ face,clock,bird,flower,house,skull

Paper (Figs. 10 and 11): one OLS over a k x n grid, test accuracy -0.0188 per added category
(its "-1.88%") and test loss +0.0649 nats (its "6.4%"). The first k names of the list are used
for each k; the grid (experiments/designs/grid.py) is k = 3..9 by n = 2,000..14,000 in steps of
1,000, as Fig. 10 shows; the text's 3..10 by 7,000..20,000 is
`--config.k_values=3..10 --config.n_values=7000..20000/1000`.
"""

from qd_jax.experiments.configs import base


def get_config():
  config = base.get_config("grid")
  config.hypothesis = "h5"
  config.models = "cnn2"
  return config
