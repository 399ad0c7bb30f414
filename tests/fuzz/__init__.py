"""Fuzzing every parser: one target per parser in targets.py, driven by hypothesis in CI
(test_targets.py) and by atheris campaigns (`make fuzz`, campaign.py). Found inputs are kept
under corpus/<target>/ and replayed by both.
"""
