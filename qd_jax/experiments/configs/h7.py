r"""H7: how early can a model guess? The paper's future work ("predict the object while it is being drawn").

    python -m qd_jax.launch --hypothesis=h7 \
        --strokes_dir=../shared/data/quickdraw_strokes \
        --categories=airplane,bicycle,calculator,camera,cat,eye,guitar,headphones

The stroke model (1-D convolutions, then an LSTM, over stroke-3 deltas) trains on the drawings'
strokes and CNN2 on the same drawings rendered as the official 28x28 bitmaps; both are scored on
the test drawings cut to 10% ... 100% of their strokes and, where raw timing exists, of their
drawing time. Not part of --hypothesis=all: it reads stroke files (--strokes_dir), not the
bitmap folder H1-H6 share, and its default categories are the ones with 450+ stroke drawings.
"""

from qd_jax.experiments.configs import base

IN_ALL = False  # `all` is the paper's H1-H6 on one bitmap folder


def get_config():
  config = base.get_config("early_guess")
  config.hypothesis = "h7"
  config.models = "rnn,cnn2"
  config.categories = "airplane,bicycle,calculator,camera,cat,eye,guitar,headphones"
  config.rows_per_category = 2000  # the shared folder holds 450 a category: cut to that, and said
  config.epochs = 20
  return config
