r"""H1: the fully connected net (784-25-12-10, 20,067 parameters) reaches "reasonable" accuracy.

    python -m qd_jax.launch --hypothesis=h1 \
        --data_dir=../shared/data/quickdraw \
        --categories=airplane,cat,rainbow,dog,smiley\ face,clock,bird,flower,house,skull

Paper: the FC net is "reasonable", read against the human baseline of 87% on ten classes; the
paper gives no threshold, so qd_jax uses `reasonable_accuracy` (0.70, ours) and also reports chance.
"""

from qd_jax.experiments.configs import base


def get_config():
  config = base.get_config("balanced")
  config.hypothesis = "h1"
  config.models = "fc"
  # The authors' FC trained until it converged (1,600 epochs against the CNNs' 10); ours gets a
  # budget past its best validation accuracy (epoch ~20 on the local data), recorded per run.
  config.model_epochs = "fc=30"
  config.quick_overrides.model_epochs = "fc=4"
  return config
