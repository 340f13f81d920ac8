"""A workdir with one kept run for the draw page's tests, and the page served from it."""

import contextlib
import json
import threading

import jax

from qd_jax import draw
from qd_jax.nn import models, registry
from qd_jax.records import params as saved_params

CATS = ["airplane", "cat", "smiley face"]


def kept_workdir(path, model="cnn2", accuracy=0.5):
  """runs.jsonl with one run whose (freshly initialised) parameters are kept."""
  path.mkdir(parents=True, exist_ok=True)
  spec = registry.get(model)
  p = models.init_params(spec.create(len(CATS)), jax.random.key(0), spec.input_kind.example_shape)
  rel = saved_params.save(path, f"hx/{model}/seed0", p, {"model": model, "categories": CATS,
                                                         "input_kind": spec.input_kind.name, "max_points": 50})
  with open(path / "runs.jsonl", "a") as f:
    f.write(json.dumps({"run_id": f"hx/{model}/seed0", "hypothesis": "hx", "model": model,
                        "test_accuracy": accuracy, "params_file": rel}) + "\n")
  return path


@contextlib.contextmanager
def serving(workdir):
  server = draw.build(workdir, port=0)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  try:
    yield server
  finally:
    server.shutdown()
    server.server_close()
    thread.join()
