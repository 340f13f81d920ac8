"""The layout's rules, checked on the source: small files and functions, one home per concept."""

import ast
import pathlib

import pytest

from qd_jax.experiments import configs, designs
from qd_jax.nn import registry

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("qd_jax", "analysis")


def _sources(*packages):
  for package in packages:
    for path in sorted((ROOT / package).rglob("*.py")):
      yield path, ast.parse(path.read_text())


def test_files_and_functions_stay_small():
  long_files, long_functions = [], []
  for path, tree in _sources(*PACKAGES):
    lines = len(path.read_text().splitlines())
    if lines > 300:
      long_files.append(f"{path.relative_to(ROOT)}: {lines}")
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


def test_model_names_are_spelled_only_in_the_registry_within_qd_jax():
  spelled = []
  for path, tree in _sources("qd_jax"):
    if "configs" in path.parts or path.name == "registry.py":
      continue
    spelled += [f"{path.relative_to(ROOT)}: {n.value}" for n in ast.walk(tree)
                if isinstance(n, ast.Constant) and n.value in registry.names()]
  assert spelled == []


def test_hypothesis_names_are_spelled_only_in_configs_within_qd_jax():
  spelled = []
  for path, tree in _sources("qd_jax"):
    if "configs" in path.parts:
      continue
    spelled += [f"{path.relative_to(ROOT)}: {n.value}" for n in ast.walk(tree)
                if isinstance(n, ast.Constant) and n.value in configs.hypotheses()]
  assert spelled == []


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
