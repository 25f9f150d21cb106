"""Scoring: buyer features (pure), a calibrated default-probability model trained and served
through the MLflow registry, the master scale, reason codes and nightly model monitoring."""
