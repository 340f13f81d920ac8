"""The layout's rules, checked on the source: small files and functions, one home per concept."""

import ast
import pathlib

import pytest

from qd_jax.experiments import configs, designs
from qd_jax.nn import registry

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("qd_jax", "analysis")
SCRIPTS = ("benchmarks", "launch", "tests")


def _sources(*packages):
  for package in packages:
    for path in sorted((ROOT / package).rglob("*.py")):
      yield path, ast.parse(path.read_text())


def test_files_and_functions_stay_small():
  long_files, long_functions = [], []
  for path, tree in _sources(*PACKAGES, *SCRIPTS):
    lines = len(path.read_text().splitlines())
    if lines > 300:
      long_files.append(f"{path.relative_to(ROOT)}: {lines}")
    if path.relative_to(ROOT).parts[0] not in PACKAGES:
      continue  # the scripts and tests are held to the file length only
    for node in ast.walk(tree):
      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
        long_functions.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
  assert long_files == [] and long_functions == []


def _imports(tree) -> set[str]:
  out = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      out |= {a.name.split(".")[0] for a in node.names}
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
      out.add(node.module.split(".")[0])
  return out


def test_qd_jax_never_imports_analysis_but_in_the_launcher():
  offenders = [str(p.relative_to(ROOT)) for p, tree in _sources("qd_jax")
               if "analysis" in _imports(tree) and p.name != "launch.py"]
  assert offenders == []


def _spelled(names, skip) -> dict[str, set[str]]:
  """{name: modules that spell it as a string} over qd_jax/ and analysis/, but modules `skip` keeps."""
  out = {}
  for path, tree in _sources(*PACKAGES):
    if skip(path):
      continue
    for n in ast.walk(tree):
      if isinstance(n, ast.Constant) and n.value in names:
        out.setdefault(n.value, set()).add(str(path.relative_to(ROOT)))
  return out


def test_model_names_are_spelled_in_the_registry_and_the_papers_table_only():
  """Each model name in at most two modules: qd_jax's registry, and analysis/paper.py (the paper
  names its models; the rest of analysis/ reads them from the records and from paper.py)."""
  spelled = _spelled(registry.names(), lambda p: "configs" in p.parts)
  allowed = {"qd_jax/nn/registry.py", "analysis/paper.py"}
  assert {name: sorted(where - allowed) for name, where in spelled.items() if where - allowed} == {}


def test_hypothesis_names_are_spelled_in_configs_and_the_papers_table_only():
  """Outside experiments/configs/, a hypothesis' name is spelled in one module: analysis/paper.py,
  whose numbers are keyed by hypothesis; everything else works from the records' design and kind."""
  spelled = _spelled(configs.hypotheses(), lambda p: "configs" in p.parts)
  assert {name: sorted(where - {"analysis/paper.py"}) for name, where in spelled.items()
          if where - {"analysis/paper.py"}} == {}


@pytest.mark.parametrize("hypothesis", configs.hypotheses())
def test_each_config_names_a_design_and_holds_only_its_fields(hypothesis):
  config = configs.get_config(hypothesis)
  own = designs.get(config.design).fields
  others = set(designs.all_fields()) - set(own)
  assert set(own) <= set(config) and not others & set(config)
  assert config.hypothesis == hypothesis


def test_a_design_is_one_module_that_defines_its_design():
  for name in designs.names():
    assert designs.get(name).name == name
