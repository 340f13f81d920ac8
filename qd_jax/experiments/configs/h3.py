r"""H3: small training sets overfit; the gap between train and validation shrinks with more rows.

    python -m qd_jax.launch --hypothesis=h3 \
        --data_dir=../shared/data/quickdraw \
        --categories=airplane,cat,rainbow,dog,smiley\ face,clock,bird,flower,house,skull

Paper (Fig. 8): the final CNN, 10 epochs, on 500, 1,000, 3,000, 5,000, 7,000 and 10,000 rows per
category; train/val accuracy and loss at epochs 1 and 10. Locally, the sizes the files hold.
"""

from qd_jax.experiments.configs import base


def get_config():
  config = base.get_config("rows")
  config.hypothesis = "h3"
  config.models = "cnn2"
  config.epochs = 10
  config.rows_sweep = "500,1000,3000,5000,7000,10000"
  config.quick_overrides.rows_sweep = "200,400,600"
  return config
