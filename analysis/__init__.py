"""Pareto fronts, tables and plots from a sweep's results. Never imports torch or Ray trainers."""
