"""Searching an index: hybrid dense and BM25 retrieval scored by the answer model, and filters."""
