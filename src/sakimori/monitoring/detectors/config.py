"""Every detector threshold in one typed object, with the reasoning behind each default.

The defaults aim at traffic no person produces, whatever the site: they were set from how
browsers, people and tools behave (a person browsing asks about one page a second at most and
fetches the page's CSS/JS/images with it; wordlist tools ask thousands of non-existent pages;
people do not type ``union select`` or ``../../etc/passwd``), not fitted to any test log.
Windows and counts are in log time (the timestamps in the lines), never wall-clock time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    # -- state bounds (every detector) ----------------------------------------------------------
    #: Clients whose state one detector keeps; past it the least recently seen is forgotten.
    max_clients: int = 100_000
    #: Open alerts one detector keeps; past it the oldest is emitted early (never lost).
    max_open_alerts: int = 10_000
    #: Example requests kept per alert.
    examples: int = 5

    # -- (a) rate and burstiness, per address, non-static requests only -------------------------
    #: Leaky bucket: a client may burst ``rate_burst`` requests, then ``rate_per_second``.
    #: People stay far below (about 1 page/s); every wordlist tool is far above (hundreds/s).
    rate_burst: int = 40
    rate_per_second: float = 2.0
    #: Regular timing: at least this many consecutive gaps between non-static requests …
    regular_min_gaps: int = 20
    #: … whose coefficient of variation (std/mean, exponentially weighted) is at most this …
    regular_max_cv: float = 0.15
    #: … with a mean gap in this range (seconds; logs have one-second resolution) …
    regular_min_mean: float = 1.0
    regular_max_mean: float = 30.0
    #: … and at least this share of requests going to a different path than the previous one
    #: (a poller refreshing one URL on a timer is regular too, but is not exploring).
    regular_min_path_changes: float = 0.5

    # -- (b) breadth: distinct non-static paths answered 3xx/4xx, per address -------------------
    breadth_window: float = 600.0
    breadth_min_paths: int = 10
    breadth_min_error_share: float = 0.5

    # -- (c) no sub-resources, per address + user agent -----------------------------------------
    assets_window: float = 1800.0
    assets_min_pages: int = 20
    assets_min_distinct: int = 10
    #: Pages must come faster than one per this many seconds on average (people read pages).
    assets_max_mean_gap: float = 5.0

    # -- (d) sensitive, admin, backdoor, technology and CVE paths, per address ------------------
    paths_window: float = 3600.0
    #: An alert when the weights of the distinct matching paths add up to this.
    paths_score: float = 1.0
    #: Weight of one distinct path per category (see data/paths.txt). Admin, technology and
    #: WordPress paths count only when the answer is not a success (the site does not have them).
    weight_exploit: float = 1.0
    weight_backdoor: float = 1.0
    weight_scanner: float = 1.0
    weight_secrets: float = 0.5
    weight_backup: float = 0.5
    weight_admin: float = 0.34
    weight_technology: float = 0.34
    weight_wordpress: float = 0.25

    # -- (e) payloads --------------------------------------------------------------------------
    #: Requests carrying a payload before an alert (one is already an attack attempt).
    payload_min_hits: int = 1
    #: URL-decoding passes (double and triple encoding are common evasions).
    payload_decode_passes: int = 4

    # -- (f) user agents -----------------------------------------------------------------------
    agent_min_requests: int = 1
    #: Browsers older than these major versions are "stale" (a weak signal, never alone).
    stale_chrome_below: int = 70
    stale_firefox_below: int = 60

    # -- (g) low and slow: several suspicious classes from one address --------------------------
    slow_window: float = 3600.0
    slow_min_classes: int = 3

    # -- (h) SSH -------------------------------------------------------------------------------
    #: Brute force: leaky bucket of failures, ``ssh_burst`` then one per ``ssh_leak`` seconds.
    ssh_burst: int = 8
    ssh_leak: float = 10.0
    #: Slow brute force: ``ssh_slow_burst`` failures, then one per ``ssh_slow_leak`` seconds.
    ssh_slow_burst: int = 15
    ssh_slow_leak: float = 600.0
    #: Spraying / user enumeration: this many distinct users failing from one address in window.
    ssh_spray_users: int = 5
    ssh_spray_window: float = 3600.0

    #: An alert closes when no new evidence arrived for this long (log time).
    alert_idle: float = 900.0
