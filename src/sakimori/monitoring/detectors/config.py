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

    # -- (i) HTTP authentication (see auth.py for what counts as a failed login) ---------------
    #: Brute force: leaky bucket of failed logins per address, ``auth_burst`` then one per
    #: ``auth_leak`` seconds (CrowdSec's HTTP brute-force scenarios use 5 then one per 10 s; a
    #: person mistyping a password retries two or three times, seconds apart).
    auth_burst: int = 5
    auth_leak: float = 10.0
    #: Slow brute force: ``auth_slow_burst`` failures, then one per ``auth_slow_leak`` seconds
    #: (a bot pacing itself under rate limits; a person never fails 16 logins at that pace).
    auth_slow_burst: int = 15
    auth_slow_leak: float = 600.0
    #: Spraying: failed logins for this many distinct user names from one address in window
    #: (names come from the log's authenticated-user field or a user-name query parameter).
    auth_spray_users: int = 5
    auth_spray_window: float = 3600.0
    #: A form login answered 2xx/3xx is a failure when the same address posts to the same login
    #: path again within this many seconds (a successful login is not followed by another).
    auth_retry_window: float = 120.0
    #: Distributed attempts: this many distinct addresses failing on one login path within the
    #: window, counting only requests sent without a Referer (a browser submitting a form
    #: always sends one) — each of them is reported.
    auth_distributed_clients: int = 20
    auth_distributed_window: float = 600.0
    #: Login paths whose distributed-attempt state is kept (least recently used first out).
    auth_max_paths: int = 4096
    #: User enumeration: new distinct values of a user parameter (``?author=N``) on one path,
    #: ``enum_burst`` then one per ``enum_leak`` seconds (a person opens a few profiles a minute).
    enum_burst: int = 5
    enum_leak: float = 10.0

    #: An alert closes when no new evidence arrived for this long (log time).
    alert_idle: float = 900.0
