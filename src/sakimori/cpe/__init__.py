"""CPE 2.3 names and matching, NVD applicability configurations, and CVE List V5 ``affected``
evaluation — pure: data in, answers out (no I/O, no database).

* :mod:`~sakimori.cpe.name` — the Well-Formed Name and its formatted-string / URI bindings
  (NISTIR 7695);
* :mod:`~sakimori.cpe.matching` — attribute and name comparison (NISTIR 7696);
* :mod:`~sakimori.cpe.version` — the generic version ordering used for NVD bounds;
* :mod:`~sakimori.cpe.nvd` — NVD CVE API 2.0 ``configurations`` parsed and checked;
* :mod:`~sakimori.cpe.applicability` — configuration evaluation and the (part, vendor,
  product) index;
* :mod:`~sakimori.cpe.cve_affected` — CVE JSON 5 ``affected`` status of a product version;
* :mod:`~sakimori.cpe.normalise` — vendor/product suggestions for free text, explained.

See ``docs/cpe.md``.
"""
