r"""H5: accuracy falls as categories are added (k = 3 ... 10 at fixed rows per category).

    python -m qd_jax.launch --hypothesis=h5 \
        --data_dir=../shared/data/quickdraw \
        --categories=airplane,cat,rainbow,dog,smiley\ face,clock,bird,flower,house,skull

Paper (Fig. 10): OLS slope of -1.88 accuracy points per added category, and test loss +6.4% per
added category. The first k names of the list are used for each k.
"""

from qd_jax.experiments.configs import base


def get_config():
  config = base.get_config("categories")
  config.hypothesis = "h5"
  config.models = "cnn2"
  config.k_sweep = "3,4,5,6,7,8,9,10"
  return config
