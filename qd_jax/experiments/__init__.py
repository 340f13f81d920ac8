"""Experiments: the configs (one per hypothesis), the designs that turn them into sweep points,
and the sweep that trains every point into a workdir."""
