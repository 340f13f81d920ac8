"""The one place a run's record is built: its line of runs.jsonl and of test_predictions.jsonl."""

from qd_jax.records import workdir as wd


def run_id(owner: str, model: str, seed: int, point_info: dict, swept: tuple = ()) -> str:
  """"h3/cnn2/seed0/rows_per_category=500": the owner (the hypothesis, or a design whose runs
  hypotheses share), then the point's `swept` fields (by default its first one)."""
  fields = swept or list(point_info)[:1]
  return "/".join([owner, model, f"seed{seed}", *(f"{k}={point_info[k]}" for k in fields)])


def build(config, point, member, result, input_pipeline: str, autotuned: str, epoch_budget: int) -> dict:
  """runs.jsonl's line for one run: what was asked (config, sweep point), what data it really
  used (split), what it gave (training.loop.RunResult), and where its layers, microbatch
  (with its unroll), evaluation batch and cohort size came from (`autotuned`: training/autotune.Setting.source)."""
  test = result.test
  return {
      "run_id": member.tag, "hypothesis": config.hypothesis, "design": config.design, "point": point.info,
      "categories": list(point.files), "num_categories": len(point.files),
      "rows_per_category": point.rows_per_category, "rows_requested": point.rows_requested,
      "split": member.split.describe(), "quick": config.quick, "jax_rng": wd.rng_settings(),
      "model": result.model, "param_count": result.param_count, "seed": result.seed, "epochs": result.history,
      "test_accuracy": test["accuracy"], "test_loss": test["loss"],
      "per_class_accuracy": dict(zip(member.split.names, test["per_class_accuracy"])),
      "confusion_matrix": test["confusion"], "test_examples": len(test["pred"]),
      "train_seconds": result.train_seconds, "compile_seconds": result.compile_seconds,
      "input_pipeline": input_pipeline, "batch_size": config.batch_size, "learning_rate": config.learning_rate,
      "init": config.init, "row_order": config.row_order, "stopping": "epoch_budget", "epoch_budget": epoch_budget,
      "devices": result.devices, "layers": result.layers, "microbatch": result.microbatch,
      "unroll": result.unroll, "eval_rows": result.eval_rows,
      "models_at_once": result.models_at_once, "autotune": autotuned}


def predictions(member, result) -> dict:
  """test_predictions.jsonl's line: the predicted label of every test drawing, keyed by
  (category, file row), in Split.gather's order."""
  labels, rows = member.split.index("test")
  pred = result.test["pred"]
  at = {c.category: labels == c.label for c in member.split.categories}
  return {"run_id": member.tag, "rows": {c: rows[m].tolist() for c, m in at.items()},
          "pred": {c: pred[m].tolist() for c, m in at.items()}}
