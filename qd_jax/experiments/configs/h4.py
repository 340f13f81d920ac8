r"""H4: class imbalance: the minority class's accuracy rises as it gets more training rows.

    python -m qd_jax.launch --hypothesis=h4 \
        --data_dir=../shared/data/quickdraw --categories=airplane,cat

Paper (Fig. 9): majority fork with 50,000 training rows against minority hammer at 0.2%, 2%,
10%, 20%, 50% and 100% of that, scored on 20,000 fresh drawings (10,000 per class) that no
training row touches; minority accuracy rises from 43% to 98%. With --categories, the first two
names play fork and hammer, capped to what their files hold. The paper's minority counts (100 ...
50,000, its ratios of 50,000) run beside the ratios, so that where the majority is capped the
minority still gets the paper's absolute rows; and at every imbalanced point the augmentation
arms of training/balance.py train beside `none`, testing "improved using data augmentation"
with no new real data, which the paper never did (it added real hammer rows).
"""

from qd_jax.experiments.configs import base


def get_config():
  config = base.get_config("imbalance")
  config.hypothesis = "h4"
  config.models = "cnn2"
  config.categories = "fork,hammer"
  config.imbalance_ratios = "0.002,0.02,0.1,0.2,0.5,1.0"
  config.minority_counts = "100,1000,5000,10000,25000,50000"
  config.augmentations = "none,oversample,class_weight,affine"
  config.majority_train_rows = 50_000
  config.test_rows_per_class = 10_000
  config.quick_overrides.majority_train_rows = 400
  config.quick_overrides.test_rows_per_class = 100
  config.quick_overrides.imbalance_ratios = "0.05,1.0"
  config.quick_overrides.minority_counts = "100"
  return config
