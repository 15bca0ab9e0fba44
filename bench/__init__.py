"""Benchmarks: scripts that measure the service on real PostgreSQL, Redis and gunicorn (`make bench`)."""
