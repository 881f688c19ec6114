"""Fault tests: a real server is killed or restarted, and must lose nothing it acknowledged."""
