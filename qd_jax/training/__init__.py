"""Training: cohorts of runs, the compiled programs, epoch runners, checkpoints and the loop."""
