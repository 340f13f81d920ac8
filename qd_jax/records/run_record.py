"""The one place a run's record is built: its line of runs.jsonl and of test_predictions.jsonl."""

from qd_jax.records import workdir as wd


def run_id(hypothesis: str, model: str, seed: int, point_info: dict) -> str:
  """"h3/cnn2/seed0/rows_per_category=500": the swept field is the point's first one."""
  swept = [f"{k}={v}" for k, v in list(point_info.items())[:1]]
  return "/".join([hypothesis, model, f"seed{seed}", *swept])


def build(config, point, member, result, input_pipeline: str, autotuned: str) -> dict:
  """runs.jsonl's line for one run: what was asked (config, sweep point), what data it really
  used (split), what it gave (training.loop.RunResult), and where its layers, microbatch and
  cohort size came from (`autotuned`: training/autotune.Setting.source)."""
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
      "devices": result.devices, "layers": result.layers, "microbatch": result.microbatch,
      "models_at_once": result.models_at_once, "autotune": autotuned}


def predictions(member, result) -> dict:
  """test_predictions.jsonl's line: the predicted label of every test drawing, keyed by
  (category, file row), in Split.gather's order."""
  labels, rows = member.split.index("test")
  pred = result.test["pred"]
  at = {c.category: labels == c.label for c in member.split.categories}
  return {"run_id": member.tag, "rows": {c: rows[m].tolist() for c, m in at.items()},
          "pred": {c: pred[m].tolist() for c, m in at.items()}}
