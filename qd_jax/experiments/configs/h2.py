r"""H2: the CNN is about 5 points more accurate than FC at equal parameter count, and ~13x faster to train.

    python -m qd_jax.launch --hypothesis=h2 \
        --data_dir=../shared/data/quickdraw \
        --categories=airplane,cat,rainbow,dog,smiley\ face,clock,bird,flower,house,skull

Paper: CNN2 (19,322 parameters) beats FC (20,067) by about 5 accuracy points and trains about
13x faster; CNN1 (320,890) is the unpooled variant. The authors' FC ran 1,600 epochs against the
CNNs' 10 and no timing code exists, so the 13x is read as time to accuracy: qd_jax reports the
CNN-FC deltas with a 95% CI across seeds, and FC's wall seconds over the CNN's to reach FC's best
validation accuracy.
"""

from qd_jax.experiments.configs import base


def get_config():
  config = base.get_config("balanced")
  config.hypothesis = "h2"
  config.models = "fc,cnn1,cnn2"
  # The authors' FC trained until it converged (1,600 epochs against the CNNs' 10); ours gets a
  # budget past its best validation accuracy (epoch ~20 on the local data), recorded per run.
  config.model_epochs = "fc=30"
  config.quick_overrides.model_epochs = "fc=4"
  # H2 compares times, so every model trains alike: one run at a time.
  config.models_at_once = 1
  return config
