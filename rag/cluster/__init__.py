"""rag on a Ray cluster: distributed indexing (build) and sharded serving (serve).

Ray is optional (``pip install -e ".[ray]"``) and imported only here, and only when a caller
asks for a cluster: the default single-process paths never import it.
"""
