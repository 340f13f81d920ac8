"""How numbers are written in REPORT.md: percentages, points, intervals, mean ± sd."""

import math


def bad(x) -> bool:
  return x is None or (isinstance(x, float) and not math.isfinite(x))


def num(x, spec: str = ".3g") -> str:
  return "n/a" if bad(x) else format(x, spec)


def pct(x, digits: int = 2) -> str:
  """A fraction as a percentage: 0.7411 -> 74.11%."""
  return "n/a" if bad(x) else f"{100 * x:.{digits}f}%"


def signed(x, digits: int = 2, scale: float = 1.0) -> str:
  return "n/a" if bad(x) else f"{scale * x:+.{digits}f}"


def ci(low, high, digits: int = 2, scale: float = 1.0, sign: bool = True) -> str:
  """[low, high] scaled, or a note that there is no interval (one seed, or too few runs)."""
  if bad(low) or bad(high):
    return "no interval"
  f = (lambda v: f"{scale * v:+.{digits}f}") if sign else (lambda v: f"{scale * v:.{digits}f}")
  return f"[{f(low)}, {f(high)}]"


def ci_g(low, high) -> str:
  """[low, high] to 3 significant digits, for ratios that span orders of magnitude."""
  return "no interval" if bad(low) or bad(high) else f"[{low:.3g}, {high:.3g}]"


def mean_sd(d: dict, scale: float = 100.0, digits: int = 1) -> str:
  """mean ± sd of a {mean, sd} dict; sd is omitted with one seed."""
  if bad(d.get("mean")):
    return "n/a"
  if bad(d.get("sd")):
    return f"{scale * d['mean']:.{digits}f}"
  return f"{scale * d['mean']:.{digits}f} ± {scale * d['sd']:.{digits}f}"


def p(x, eq: str = "") -> str:
  """A p-value; `eq` ("= ") prefixes a plain value so that prose reads "p = 0.012" or "p < 0.001"."""
  if bad(x):
    return "n/a"
  return "< 0.001" if x < 1e-3 else f"{eq}{x:.3f}"


def ints(values) -> str:
  """[500, 1000] -> "500, 1,000"."""
  return ", ".join(f"{v:,}" if isinstance(v, int) else str(v) for v in values)


def ratio_pct(r: float) -> str:
  """An imbalance ratio as the paper writes it: 0.002 -> 0.2%."""
  return "n/a" if bad(r) else f"{100 * r:g}%"


def scale_tag(s: dict) -> str:
  """A hypothesis' scale (analysis.scale) in a phrase: as designed, or why not."""
  return "**reduced scale**: " + "; ".join(s["reasons"]) if s["reduced_scale"] else "as designed"
