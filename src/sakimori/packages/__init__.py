"""Counter-measure packages: the model, its lifecycle, targeting under TLP 2.0, and its
renderings as a CSAF 2.0 security advisory and as STIX 2.1 objects. Pure: no I/O here; the
service (``sakimori.services.packages``) stores, targets and serves them."""
