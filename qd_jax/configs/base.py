"""The fields every hypothesis shares; `--config.<field>=value` overrides any of them."""

import ml_collections

from qd_jax.data.download import BUCKET_URL


def get_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.hypothesis = ""
  c.models = "fc,cnn1,cnn2"  # comma-separated: fc, cnn1, cnn2
  c.categories = ""  # comma-separated official names; "" = the paper's ten
  c.data_dir = ""  # "" = $QD_DATA_DIR, else ~/.cache/qd_jax/quickdraw
  c.download = True  # fetch missing categories from the official bucket
  c.bucket_url = BUCKET_URL  # or a mirror with the same layout
  # Rows drawn per category before the split. When the files hold fewer, every category is
  # capped to the smallest file (classes stay balanced) and the cap is printed and recorded.
  c.rows_per_category = 10_000
  c.val_fraction = 0.1  # the paper's 80:20 train:test, with validation cut from the 80
  c.test_fraction = 0.2
  c.epochs = 10
  c.batch_size = 128
  c.eval_batch_size = 1000
  c.learning_rate = 1e-3  # Adam's default, as in Keras
  c.seed = 0
  c.num_seeds = 3  # seeds seed, seed+1, ...: each changes init, split and shuffling
  # "device": the training rows live on the accelerator and each epoch is one compiled scan;
  # "tfdata": the tf.data pipeline streams them from the memmaps; "auto" picks "device" when
  # the training rows take at most device_data_max_mb.
  c.input_pipeline = "auto"
  # Layer formulations (qd_jax/layers.py): "fast" lays the convolutions, pooling and the wide
  # dense layer out for XLA:CPU (same parameters, same results to float rounding); "xla" uses
  # XLA's own; "auto" picks "fast" on CPUs and "xla" on accelerators.
  c.layers = "auto"
  c.device_data_max_mb = 2048
  # Runs of one model that train at once, stacked in one compiled program (qd_jax/cohort.py):
  # 0 = the measured default (16 on accelerators; on CPUs 8 for FC and 1 for the CNNs).
  c.models_at_once = 0
  # XLA's persistent compilation cache: later processes load compiled steps instead of
  # compiling them again ("" turns it off). compile_seconds then shows the load time.
  c.compilation_cache_dir = "~/.cache/qd_jax/xla"
  c.checkpoint_every = 1  # epochs; a SIGTERM saves at the next epoch boundary regardless
  # ... but at most once per this many seconds: a kill -9 loses at most this much (and the epoch
  # in flight), and fast runs do not spend their time writing checkpoints.
  c.checkpoint_min_seconds = 30.0
  c.keep_checkpoints = 2  # at least 2: a kill between two runs' saves leaves them one save apart
  # Sweeps (comma-separated, so they are easy to override): set by the hypotheses that use them.
  c.rows_sweep = ""  # H3, H6: rows per category
  c.min_sweep_points = 1  # H6: at least this many sizes, on an even grid if the files are small
  c.k_sweep = ""  # H5: numbers of categories, the first k of the list
  c.imbalance_ratios = ""  # H4: minority train rows / majority train rows
  c.majority_train_rows = 0  # H4
  c.test_rows_per_class = 0  # H4: the fresh, balanced test set
  # H1's bar for "reasonable": the paper names none, so this one is ours (human baseline: 0.87).
  c.reasonable_accuracy = 0.70
  c.quick = False
  # Applied by --quick: the same design cut to seconds, still on real drawings.
  c.quick_overrides = ml_collections.ConfigDict(
      {"rows_per_category": 600, "epochs": 2, "num_seeds": 2})
  return c
