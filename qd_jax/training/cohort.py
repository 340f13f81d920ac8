"""Many models at once: the runs of one sweep that train together in one compiled program.

A cohort is M runs of one model (seeds, sweep points) with device-resident data. Their states
are stacked along a leading axis and one `jax.vmap`ped step trains them all (a cohort of one
keeps its run's state as it is). Where runs differ:
  * classes (H5's k): every state is zero-padded to `padded_classes` of the most classes, and
    the padded logits are masked out of the loss, so those weights get zero gradients and Adam
    leaves them at zero. A run of fewer than CLASS_FLOOR classes trains padded to it even alone:
    H5's k = 3..9 and H4's two classes then share the one epoch program, not one each;
  * rows (H3, H4, H6): the data is zero-padded to the most rows, every run gets the most steps,
    and a run's steps past its own count are masked (its state is kept as it was).
Each run keeps its own seed, split, initial parameters and data order, so its numbers equal its
solo run's to float rounding (tests/test_cohort.py). Padding costs compute, so `plan` groups only
runs whose step counts are within a factor of two.

Everything about cohorts is here: which runs form one (`plan`), stacking and unstacking their
states, the vmapped step, padding, masks, the per-epoch index tables, and where they resume.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from qd_jax.data import categories, splits
from qd_jax.nn import registry
from qd_jax.training import checkpoint


@dataclasses.dataclass
class Member:
  """One run of a cohort."""
  split: splits.Split
  seed: int
  tag: str
  checkpoints: checkpoint.RunCheckpoints | None = None
  augmentation: str = "none"  # training/balance.ARMS


def device_budget_rows(device_data_max_mb: int) -> int:
  """How many bitmap rows fit in device_data_max_mb."""
  return device_data_max_mb * 2**20 // categories.ROW_BYTES


def plan(members: list[Member], model_name: str, *, input_pipeline: str, batch_size: int, models_at_once: int,
         device_data_max_mb: int) -> list[list[int]]:
  """Which runs train at once: models_at_once, or the model's measured default, capped so the
  stacked training rows stay within device_data_max_mb: first the cohorts a kill interrupted, as
  they were (`interrupted`), then the rest by `group`. Streamed (tf.data) runs train one at a time."""
  if input_pipeline != "device":
    return [[i] for i in range(len(members))]
  if not members:
    return []
  size = models_at_once or registry.get(model_name).cohort_size(jax.default_backend())
  rows = padded_rows(max(m.split.count("train") for m in members))
  size = max(1, min(size, device_budget_rows(device_data_max_mb) // rows))
  held = interrupted(members)
  rest = [i for i in range(len(members)) if all(i not in c for c in held)]
  step_counts = [members[i].split.count("train") // batch_size for i in rest]
  return held + [[rest[j] for j in c] for c in group(step_counts, size)]


def group(steps_per_run: list[int], max_size: int) -> list[list[int]]:
  """Groups run indices into cohorts: step counts within a factor of two, at most `max_size`
  runs each. Runs keep their order inside a cohort."""
  order = sorted(range(len(steps_per_run)), key=lambda i: (-steps_per_run[i], i))
  cohorts: list[list[int]] = []
  for i in order:
    last = cohorts[-1] if cohorts else None
    if last and len(last) < max_size and 2 * steps_per_run[i] >= steps_per_run[last[0]]:
      last.append(i)
    else:
      cohorts.append([i])
  return [sorted(c) for c in cohorts]


def resume_epoch(members: list[Member]) -> int:
  """The latest epoch every member holds a checkpoint of (0: start afresh).

  Members save one after another, so a kill between two members' saves leaves them one save
  apart. The newer member keeps its older checkpoint too (keep_checkpoints >= 2, checked by
  configs.base.validate), so the whole cohort resumes from that one, as the same cohort, and its
  numbers stay bitwise those of an uninterrupted run."""
  return resume_candidates(members)[0]


def resume_candidates(members: list[Member]) -> list[int]:
  """The epochs the cohort can resume from, newest first, ending with 0 (afresh): those every
  member holds. A damaged checkpoint sends the whole cohort to the next one (training/loop.py)."""
  kept = [set(m.checkpoints.epochs()) if m.checkpoints else set() for m in members]
  return sorted(set.intersection(*kept) - {0} if kept else set(), reverse=True) + [0]


def interrupted(members: list[Member]) -> list[list[int]]:
  """The cohorts a kill interrupted, as they were: indices of the members that name one cohort
  beside their checkpoints (RunCheckpoints.name_cohort), where one of them holds a saved epoch.
  Each resumes as that cohort from `resume_epoch`: afresh, if a kill came between its runs'
  first saves. A member that finished (recorded, so not among `members`) drops out of it."""
  named: dict[tuple, list[int]] = {}
  for i, m in enumerate(members):
    if m.checkpoints and (tags := m.checkpoints.cohort()):
      named.setdefault(tuple(tags), []).append(i)
  return [c for c in named.values() if any(members[i].checkpoints.epochs() for i in c)]


# The class count every cohort of fewer classes pads to: the paper's ten. On XLA:CPU each class
# count cost its own epoch program, 3.2-4.2 s to compile for CNN2 (benchmarks/results/cpu/
# overhead_2026-12-03b), against a last layer of 64 x 10 weights instead of 64 x k.
CLASS_FLOOR = 10


def padded_classes(k: int) -> int:
  """The classes a cohort whose largest run has k trains with: k, or CLASS_FLOOR if more."""
  return max(k, CLASS_FLOOR)


def _pad_to(a, shape):
  if a.shape == shape:
    return a
  return jnp.pad(a, [(0, t - s) for s, t in zip(a.shape, shape)])


def _pad_leaves(run, shapes):
  return [_pad_to(a, s) for a, s in zip(run, shapes)]


def _cut_leaves(run, shapes):
  return [a[tuple(slice(0, n) for n in s)] for a, s in zip(run, shapes)]


def _stack_leaves(runs, shapes):
  return [jnp.stack(column) for column in zip(*(_pad_leaves(r, shapes) for r in runs))]


def _unstack_leaves(leaves, shapes):
  return [_cut_leaves([a[m] for a in leaves], run) for m, run in enumerate(shapes)]


@functools.cache
def _program(fn, sharding):
  """fn jitted once per sharding (shapes are its static second argument). One program per
  epoch boundary instead of an eager op per array per run: those dominated small runs' time."""
  return jax.jit(fn, static_argnums=1, out_shardings=sharding)


def _leaves(state):
  # apply_fn differs with the class count, so only the arrays are stacked, never the TrainState
  return jax.tree_util.tree_flatten((state.params, state.opt_state, state.step))


def stack(states: list, like=None):
  """One TrainState of M runs: each run's arrays zero-padded to the shapes of `like` (a state,
  or its jax.eval_shape, whose apply_fn and tx the result takes; default: the largest run's) and
  stacked on a new axis 0. Padded weights get zero gradients, so Adam keeps them at zero.
  A cohort of one of `like`'s shapes is its run's state as it is (`stacked_step` knows it by
  M = 1): no stacking program to compile, and none to cut the state back each epoch."""
  template = like if like is not None else max(states, key=lambda s: sum(a.size for a in jax.tree_util.tree_leaves(s.params)))
  shapes = _shapes(template)
  if len(states) == 1 and _shapes(states[0]) == shapes:
    return states[0]
  runs, (first, tree) = [_leaves(s)[0] for s in states], _leaves(states[0])
  if len(states) == 1:  # a lone run padded: no stacking axis
    params, opt_state, step = tree.unflatten(_program(_pad_leaves, first[0].sharding)(runs[0], shapes))
  else:
    params, opt_state, step = tree.unflatten(_program(_stack_leaves, first[0].sharding)(runs, shapes))
  return template.replace(params=params, opt_state=opt_state, step=step)


def _shapes(state) -> tuple:
  return tuple(np.shape(a) for a in _leaves(state)[0])


def unstack(stacked, states: list) -> list:
  """The inverse of `stack`: run m's arrays, cut back to the shapes of its state in `states`."""
  if len(states) == 1:
    shapes = _shapes(states[0])
    if _shapes(stacked) == shapes:
      return [stacked]
    leaves, _ = _leaves(stacked)
    params, opt_state, step = _leaves(states[0])[1].unflatten(_program(_cut_leaves, leaves[0].sharding)(leaves, shapes))
    return [states[0].replace(params=params, opt_state=opt_state, step=step)]
  leaves, _ = _leaves(stacked)
  shapes = tuple(_shapes(s) for s in states)
  cut = _program(_unstack_leaves, leaves[0].sharding)(leaves, shapes)
  out = []
  for s, run in zip(states, cut):
    params, opt_state, step = _leaves(s)[1].unflatten(run)
    out.append(s.replace(params=params, opt_state=opt_state, step=step))
  return out


def class_mask(num_classes: list[int], k: int | None = None) -> np.ndarray | None:
  """(M, K) True where member m has class k, for K = `k` (default: the most); None when no
  member is padded."""
  k = k or max(num_classes)
  if min(num_classes) == k:
    return None
  return np.arange(k)[None, :] < np.asarray(num_classes)[:, None]


def stack_extras(extras: list[dict], num_classes: int) -> dict | None:
  """The members' per-run step inputs (training/balance.extras) stacked (M, ...), per-class ones
  padded to `num_classes`, None when no member has any. A member without one gets the value that
  changes nothing: weight 1 (padded classes 0), no class augmented, key 0."""
  names = sorted({name for e in extras for name in e})
  if not names:
    return None
  neutral = {"class_weights": np.ones(num_classes, np.float32), "augment": np.zeros(num_classes, bool),
             "key": np.zeros(2, np.uint32)}
  out = {}
  for name in names:
    rows = [np.asarray(e.get(name, neutral[name])) for e in extras]
    per_class = name != "key"  # class_weights, augment: zero-padded to the states' classes
    width = max(num_classes if per_class else 0, *(r.shape[0] for r in rows))
    out[name] = np.stack([np.pad(r, (0, width - r.shape[0])) for r in rows])
  return out


ALIGN = 64  # bytes: the host buffers XLA:CPU uses without copying


def padded_rows(n: int) -> int:
  """n rounded up to the next 2^j or 3 * 2^(j-1). The cohort's rows on the device then take one of
  a few shapes, and runs of every size in between share the gather program compiled for it
  (programs.Programs.epoch). That costs at most 50% more memory and no compute: no index reaches
  the padding."""
  p = 1 << (n - 1).bit_length() if n > 1 else 1
  return 3 * p // 4 if p >= 4 and n <= 3 * p // 4 else p


def host_zeros(shape: tuple, dtype) -> np.ndarray:
  """np.zeros, 64-byte aligned: XLA:CPU places such an array without copying it, where it copies
  np.zeros' own (32 ms for a cohort's 37 MiB of rows: benchmarks/place_rows.py). The device
  array is then the buffer itself, so nothing may write to it once placed."""
  size = int(np.prod(shape)) * np.dtype(dtype).itemsize
  raw = np.zeros(size + ALIGN, np.uint8)
  start = -raw.ctypes.data % ALIGN
  return raw[start:start + size].view(dtype).reshape(shape)


def stack_rows(arrays: list[np.ndarray]) -> np.ndarray:
  """(M, padded_rows(N_max), ...) with each member's rows first and zeros after."""
  n = padded_rows(max(len(a) for a in arrays))
  out = host_zeros((len(arrays), n, *arrays[0].shape[1:]), arrays[0].dtype)
  for m, a in enumerate(arrays):
    out[m, :len(a)] = a
  return out


def epoch_tables(members: list[Member], epoch: int, batch_size: int) -> tuple[np.ndarray, np.ndarray | None]:
  """Per-step row indices (S, M, B) and the active mask (S, M), None when every run has S steps.

  Member m's indices are exactly its solo run's: a permutation seeded by (seed, epoch)."""
  orders = [splits.epoch_order(m.split.count("train"), m.seed, epoch, batch_size) for m in members]
  steps = [len(o) for o in orders]
  s_max = max(steps)
  idx = np.zeros((s_max, len(members), batch_size), np.int32)
  for j, order in enumerate(orders):
    idx[:len(order), j] = order
  if min(steps) == s_max:
    return idx, None
  return idx, np.arange(s_max)[:, None] < np.asarray(steps)[None, :]


def stacked_step(step):
  """`step(state, x, y, class_mask, extras)` for M stacked runs (leading axis M on everything
  but a cohort of one's state, which `stack` leaves as it is); runs that `active` (M,) marks
  False keep their state."""
  def run(state, x, y, class_mask, active, extras=None):
    if x.shape[0] == 1:  # one run: no vmap, the solo program exactly
      first = lambda tree: jax.tree_util.tree_map(lambda a: a[0], tree)  # noqa: E731
      new, m = step(state, x[0], y[0], None if class_mask is None else class_mask[0], first(extras))
      m = jax.tree_util.tree_map(lambda a: a[None], m)
      if active is not None:
        new = jax.tree_util.tree_map(lambda n, o: jnp.where(active[0], n, o), new, state)
      return new, m
    new, m = jax.vmap(step)(state, x, y, class_mask, extras)
    if active is not None:
      keep = lambda n, o: jnp.where(active.reshape(-1, *[1] * (n.ndim - 1)), n, o)  # noqa: E731
      new = jax.tree_util.tree_map(keep, new, state)
    return new, m
  return run
