r"""H6: accuracy rises with rows per category, on the k x n grid that H5 shares.

    python -m qd_jax.launch --hypothesis=h6 \
        --data_dir=../shared/data/quickdraw \
        --categories=airplane,cat,rainbow,dog,smiley\ face,clock,bird,flower,house,skull

Paper (Fig. 11): the same OLS as H5's, test accuracy +1.601e-05 per added row (its "+.0016%")
and test loss -5.628e-05 nats per row. H5 and H6 name their runs by the grid, so under
`--hypothesis=all` each run trains once and both read it.
"""

from qd_jax.experiments.configs import base


def get_config():
  config = base.get_config("grid")
  config.hypothesis = "h6"
  config.models = "cnn2"
  return config
