"""Simulated scenes and their truth, rendering, evaluation and the demo."""
