"""Helpers the crash-safety and concurrency tests run in child processes (fake embedder, no model)."""
