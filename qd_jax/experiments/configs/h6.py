r"""H6: accuracy rises with rows per category (n = 7,000 ... 20,000 at k = 10).

    python -m qd_jax.launch --hypothesis=h6 \
        --data_dir=../shared/data/quickdraw \
        --categories=airplane,cat,rainbow,dog,smiley\ face,clock,bird,flower,house,skull

Paper (Fig. 11): OLS slope of +0.0016 accuracy points per added row. Where the files are smaller,
at least five sizes on an even grid up to the smallest file.
"""

from qd_jax.experiments.configs import base


def get_config():
  config = base.get_config("rows")
  config.hypothesis = "h6"
  config.models = "cnn2"
  config.rows_sweep = ",".join(str(n) for n in range(7000, 20001, 1000))
  config.min_sweep_points = 5
  config.quick_overrides.rows_sweep = "200,300,400,500,600"
  return config
