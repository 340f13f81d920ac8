"""The Adam step of one run: the loss on a batch (class masks, class weights, augmentation),
its gradient walked in microbatch chunks, and the update. training/programs.py compiles it,
alone (streamed data) or scanned over an epoch and vmapped over a cohort (training/cohort.py).
"""

from typing import Callable

import jax
import jax.numpy as jnp
from flax.training import train_state

from qd_jax.nn import losses


UNROLL = 2  # microbatch chunks per loop iteration where nothing chose (autotune.UNROLLS)


def microbatch_value_and_grad(loss_fn, chunk: int, unroll: int = UNROLL):
  """value_and_grad(loss_fn, has_aux=True) that walks the batch in chunks of `chunk` rows.

  loss_fn(params, x, y) -> (mean loss, logits). With equal chunks, the mean of the chunk means
  is the batch mean, so the result equals the whole-batch one. Chunks keep the intermediates
  small: on XLA:CPU, CNN batches of 1024 train faster in chunks (training/autotune.py). Each
  scan step runs `unroll` chunks, whose graphs are independent: XLA:CPU then overlaps one chunk's
  single-threaded kernels (the conv kernel-gradient GEMMs) with the others'. How many pays is the
  CPU's to say (autotune times 2, 4 and 8); each gives the same gradient to float rounding.
  """
  vg = jax.value_and_grad(loss_fn, has_aux=True)

  def run(params, x, y):
    n = x.shape[0]
    if not chunk or chunk >= n:
      return vg(params, x, y)
    if n % chunk:
      raise ValueError(f"batch {n} is not a multiple of microbatch {chunk}")
    k = n // chunk

    def body(acc, xy):
      (loss, logits), g = vg(params, *xy)
      return jax.tree_util.tree_map(jnp.add, acc, (loss, g)), logits

    zero = (jnp.zeros((), jnp.float32), jax.tree_util.tree_map(jnp.zeros_like, params))
    (loss, g), logits = jax.lax.scan(body, zero, (x.reshape(k, chunk, *x.shape[1:]),
                                              y.reshape(k, chunk, *y.shape[1:])), unroll=min(unroll, k))
    mean = jax.tree_util.tree_map(lambda a: a / k, (loss, g))
    return (mean[0], logits.reshape(n, *logits.shape[2:])), mean[1]

  return run


STEP_METRICS = {"loss": jnp.float32, "correct": jnp.int32}  # train_step's metrics: a scalar of each per step


def train_step(state: train_state.TrainState, x: jax.Array, y: jax.Array, class_mask=None, extras=None, *,
               prepare: Callable, augment: Callable | None = None, microbatch: int = 0,
               unroll: int = UNROLL):
  """One Adam step on raw rows x (prepare turns them into the network's input). `microbatch` > 0
  walks the batch in chunks of that many rows, `unroll` chunks per loop iteration: the same
  gradient, faster for CNNs on XLA:CPU.
  `class_mask` (K,) drops padded classes from the softmax (cohorts whose runs differ in k).
  `extras` (training/balance.extras): `class_weights` (K,) weight each row's loss by its class;
  `augment` (K,) with `key` transforms the rows of those classes at random (`augment`), with a
  key folded from the run's key and its step count, so a resumed run draws the same."""
  extras = extras or {}
  weights = extras.get("class_weights")
  if "augment" in extras:
    if augment is None:
      raise ValueError("this model's input kind has no augmentation")
    key = jax.random.fold_in(jax.random.wrap_key_data(extras["key"]), state.step)
    marked = extras["augment"][y]
    # A conditional, so XLA materialises the drawn rows once instead of fusing the sampling into
    # every read of them (the CPU convolutions read each pixel several times: 5x the step's flops
    # when fused); a batch with no marked row skips the draw. Stacked runs (vmap) get a select.
    x = jax.lax.cond(jnp.any(marked), lambda v: augment(v, key, marked), lambda v: v, prepare(x))
    prepare = lambda v: v  # noqa: E731

  def loss_fn(params, x, y):
    logits = state.apply_fn({"params": params}, prepare(x))
    if class_mask is not None:
      logits = jnp.where(class_mask, logits, -1e9)  # exp underflows to 0: the k-class softmax
    if weights is not None:  # Keras' class_weight: the batch mean of weight x loss
      return jnp.mean(weights[y] * losses.cross_entropy(logits, y)), logits
    return losses.mean_cross_entropy(logits, y), logits

  chunk = microbatch if microbatch and x.shape[0] % microbatch == 0 else 0
  (loss, logits), grads = microbatch_value_and_grad(loss_fn, chunk, unroll)(state.params, x, y)
  correct = jnp.sum(jnp.argmax(logits, -1) == y, dtype=STEP_METRICS["correct"])
  return state.apply_gradients(grads=grads), {"loss": loss.astype(STEP_METRICS["loss"]), "correct": correct}
