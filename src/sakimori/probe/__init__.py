"""``sakimori probe``: defensive static analysis of a source tree.

A deterministic taint engine for Python (:mod:`sakimori.probe.scan` runs it over a tree), its model
tables (:mod:`sakimori.probe.models`), the rules (:mod:`sakimori.probe.rules`), SARIF 2.1.0 output
(:mod:`sakimori.probe.sarif`) and benchmark scoring (:mod:`sakimori.probe.scoring`).
"""
