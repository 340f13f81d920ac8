"""The peers of benchmarks/throughput.py: tf.keras `model.fit` and PyTorch eager on the CPU.

Both train the same architectures as qd_jax.nn.models, with Adam(1e-3) on uint8 rows scaled inside
the step. `pip install -e ".[bench]"` installs torch; tf.keras comes with tensorflow-cpu.
"""

import os

import numpy as np

LEARNING_RATE = 1e-3
NUM_CLASSES = 10


class Runner:
  """One implementation ready to train: `call()` runs its steps and returns the sample count.
  `params` is its network's parameter count, so tests can hold the peers to qd_jax.nn.models'."""

  def __init__(self, call, compile_s: float | None, detail: str, params: int | None = None):
    self.call, self.compile_s, self.detail, self.params = call, compile_s, detail, params


def compile_estimate(call) -> float:
  """First call minus a warm one: what building and compiling the step cost."""
  import time
  seconds = []
  for _ in range(2):
    t0 = time.perf_counter()
    call()
    seconds.append(time.perf_counter() - t0)
  return max(0.0, seconds[0] - seconds[1])


def keras_runner(model, batch, steps, x, y, jit_compile):
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's start-up chatter
  import tensorflow as tf
  keras = tf.keras
  L = keras.layers
  body = [keras.Input((784,), dtype="uint8"), L.Rescaling(1 / 255.0)]
  if model == "fc":
    body += [L.Dense(25, activation="relu"), L.Dense(12, activation="relu")]
  else:
    pool = [L.MaxPooling2D(2)] if model == "cnn2" else []
    body += [L.Reshape((28, 28, 1)), L.Conv2D(4, 3, activation="relu"), *pool,
             L.Conv2D(8, 2, activation="relu"), *pool, L.Flatten(), L.Dense(64, activation="relu")]
  net = keras.Sequential(body + [L.Dense(NUM_CLASSES)])
  net.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), jit_compile=jit_compile,
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch, drop_remainder=True).repeat()
  ds = ds.prefetch(tf.data.AUTOTUNE)

  def call():
    net.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    return steps * batch

  return Runner(call, compile_estimate(call), f"model.fit, jit_compile={jit_compile}", net.count_params())


def torch_runner(model, batch, steps, x, y):
  import torch
  from torch import nn
  threads = os.cpu_count() or 1
  torch.set_num_threads(threads)
  if model == "fc":
    layers_ = [nn.Linear(784, 25), nn.ReLU(), nn.Linear(25, 12), nn.ReLU(), nn.Linear(12, NUM_CLASSES)]
  else:
    pool = [nn.MaxPool2d(2)] if model == "cnn2" else []
    layers_ = [nn.Unflatten(1, (1, 28, 28)), nn.Conv2d(1, 4, 3), nn.ReLU(), *pool, nn.Conv2d(4, 8, 2),
               nn.ReLU(), *pool, nn.Flatten(), nn.Linear(288 if pool else 5000, 64), nn.ReLU(),
               nn.Linear(64, NUM_CLASSES)]
  torch.manual_seed(0)
  net = nn.Sequential(*layers_)
  opt = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
  loss_fn = nn.CrossEntropyLoss()
  xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))

  def call():
    for i in range(steps):
      xb = xt[i * batch:(i + 1) * batch].float().div_(255.0)  # uint8 travels, float32 computes
      opt.zero_grad(set_to_none=True)
      loss_fn(net(xb), yt[i * batch:(i + 1) * batch]).backward()
      opt.step()
    return steps * batch

  call()
  return Runner(call, 0.0, f"eager, {threads} threads", sum(p.numel() for p in net.parameters()))


def runners(impl: str, model, batch, steps, x, y) -> dict:
  """The timed runners of one peer by name: torch's, or keras' with XLA and without (the faster
  one is the row; benchmarks/throughput.py and step_profile.py both pick it by its best window)."""
  if impl == "torch":
    return {"torch": torch_runner(model, batch, steps, x, y)}
  return {f"keras_{k}": keras_runner(model, batch, steps, x, y, jit) for k, jit in (("xla", True), ("noxla", False))}


def available(impl: str) -> str | None:
  """None when importable, else the one-line reason it is skipped."""
  module = {"keras": "tensorflow", "torch": "torch"}.get(impl)
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  if module is None:
    return None
  try:
    __import__(module)
  except ImportError as e:
    return f"{impl}: not installed ({e.__class__.__name__}: {e})"
  return None
