"""Shared vocabulary: candidates, registration, classes, bodies, geometry, errors, atomic writes."""
