"""Emergency updates over The Update Framework (TUF), built on python-tuf.

Vendor side: :mod:`keys` (Ed25519 key files), :mod:`repository` (a vendor's TUF repository on
disk: roles, thresholds, delegated product lines, staging, signing, online snapshot/timestamp
refresh, root rotation). Platform side: :mod:`acceptance` (what is checked before a vendor's
upload is published). Operator side: :mod:`client` (``tuf.ngclient`` with a pinned root, limits
and timeouts, every refusal mapped to :mod:`errors`) and :mod:`rollout` (staged roll-out with a
health check, automatic roll-back, and a journal). Talking to the platform API: :mod:`platform`
(a vendor's upload, an operator's roll-out steps reported). The platform's hosting of vendor
repositories is ``sakimori.services.updates``. See docs/updates.md.
"""
