"""Monitoring: Prometheus metrics, request ids, structured logs."""
