"""The models by name: one spec per model, and everything the rest of qd_jax asks about one.

A spec holds the Flax module, its formulation for XLA:CPU (nn/cpu_networks.py, if it has one),
the CPU defaults measured for it (microbatch chunk, runs stacked per cohort) and its input kind.
A new model is one entry in SPECS.
"""

import dataclasses
import functools
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from qd_jax.errors import QdError
from qd_jax.nn import augment, cpu_networks, models, stroke_models

LAYERS = ("auto", "fast", "xla")  # config.layers: "fast" is the CPU formulation, "xla" flax's own


@dataclasses.dataclass(frozen=True)
class InputKind:
  """What a model's rows are, and how a batch of them becomes the network's input."""
  name: str
  example_shape: tuple[int, ...]  # one row, as the data delivers it
  prepare: Callable[[jax.Array], jax.Array]
  # (prepared rows, key, (B,) mask) -> rows with the masked ones transformed at random; None: no
  # augmentation for this kind (H4's affine arm needs one)
  augment: Callable | None = None


def _pixels(x_bd: jax.Array) -> jax.Array:
  return x_bd.astype(jnp.float32) / 255.0  # uint8 travels, float32 computes


BITMAP = InputKind("bitmap", (784,), _pixels, augment.affine)
# (dx, dy, pen lifted, valid) per point, padded to config.max_points (data/strokes.stroke3); the
# parameters do not depend on the length, so a short example shape initialises them.
STROKES = InputKind("strokes", (16, 4), lambda x: x.astype(jnp.float32))


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  name: str
  module: Callable[[int], nn.Module]  # number of classes -> the Flax module
  cpu_network: Callable | None = None  # (params, x) -> logits on the module's own params
  cpu_microbatch: int = 0  # rows per chunk inside the step with cpu_network (0: whole batches)
  # Rows per evaluation call with cpu_network (0: config.eval_batch_size): a patches GEMM's forward
  # pass over 1,000 rows ran 2.5x slower than over 250-500 here (the same cache cliff as training);
  # CNN2's pooled convs, evaluated without patches, held their rate (eval_formulations.log).
  cpu_eval_rows: int = 0
  cpu_cohort: int = 1  # runs trained stacked by default on CPUs
  accelerator_cohort: int = 16  # ... and on GPUs and TPUs
  input_kind: InputKind = BITMAP
  # An epoch as one compiled scan of steps; False: one compiled step per call. The stroke model's
  # LSTM steps ran 7x slower inside a scan over steps on XLA:CPU (benchmarks/stroke_epochs.py).
  scan_epochs: bool = True

  def create(self, num_classes: int) -> nn.Module:
    return self.module(num_classes)

  def layers(self, requested: str, backend: str) -> str:
    """The layer formulation that really runs: "auto" is the CPU one on CPUs where it exists."""
    if requested not in LAYERS:
      raise QdError(f"--config.layers={requested!r} is not one of {', '.join(LAYERS)}", "pass --config.layers=auto")
    if self.cpu_network is None or requested == "xla" or (requested == "auto" and backend != "cpu"):
      return "xla"
    return "fast"

  def apply(self, layers: str, num_classes: int) -> Callable:
    """(variables, x) -> logits, for TrainState.apply_fn: the module's, or the CPU formulation."""
    if layers == "xla":
      return self.create(num_classes).apply
    return lambda variables, x: self.cpu_network(variables["params"], x)

  def microbatch(self, layers: str, backend: str, devices: int) -> int:
    """Chunks only for the CPU formulation on one XLA:CPU device, where they were measured: on
    accelerators they would serialise work the chip runs in parallel, and over several devices
    chunking a split batch would reshard it."""
    if layers != "fast" or backend != "cpu" or devices > 1:
      return 0
    return self.cpu_microbatch

  def eval_rows(self, layers: str) -> int:
    """Rows per evaluation batch when autotune does not pick them (0: config.eval_batch_size)."""
    return self.cpu_eval_rows if layers == "fast" else 0

  def cohort_size(self, backend: str) -> int:
    """Runs stacked when config.models_at_once is 0. Measured (benchmarks/throughput.py,
    `qd_jax_models<M>` rows): a GPU idles on one small model; on XLA:CPU the dense net gains,
    but the CNN layers vmapped over runs ran at 0.3x to 0.5x their single-run rate."""
    return self.accelerator_cohort if backend != "cpu" else self.cpu_cohort


SPECS = {s.name: s for s in (
    ModelSpec("fc", lambda k: models.FC(num_classes=k), cpu_networks.fc_apply, cpu_cohort=8),
    ModelSpec("cnn1", lambda k: models.CNN(pool=False, num_classes=k),
              functools.partial(cpu_networks.cnn_apply, pool=False), cpu_microbatch=64, cpu_eval_rows=250),
    ModelSpec("cnn2", lambda k: models.CNN(pool=True, num_classes=k),
              functools.partial(cpu_networks.cnn_apply, pool=True), cpu_microbatch=128, cpu_eval_rows=500),
    ModelSpec("rnn", lambda k: stroke_models.StrokeRNN(num_classes=k), input_kind=STROKES, scan_epochs=False),
)}


def names() -> tuple[str, ...]:
  return tuple(SPECS)


def get(name: str) -> ModelSpec:
  if name not in SPECS:
    raise QdError(f"unknown model {name!r}", f"use one of {', '.join(SPECS)}")
  return SPECS[name]


def parse(text: str) -> list[str]:
  """--config.models: a comma-separated list of known names."""
  chosen = [m.strip() for m in text.split(",") if m.strip()]
  if not chosen:
    raise QdError(f"--config.models={text!r} names no known model", f"use {','.join(SPECS)}")
  for name in chosen:
    if name not in SPECS:
      raise QdError(f"unknown model {name!r} in --config.models", f"use {','.join(SPECS)}")
  return chosen
