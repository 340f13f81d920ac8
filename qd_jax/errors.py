"""The one exception type a user ever sees: a one-line problem plus its fix."""


class QdError(Exception):
  """Bad input or environment. `launch` prints `str(err)` on one line and exits 2."""

  def __init__(self, problem: str, fix: str = ""):
    self.problem = problem
    self.fix = fix
    super().__init__(f"{problem}; {fix}" if fix else problem)
