"""What a launch writes: the workdir, its JSON-lines files, and each run's record."""
