"""Vulnerability intelligence: the network seam (:mod:`.fetch`) and the feeds (:mod:`.sources`)."""
