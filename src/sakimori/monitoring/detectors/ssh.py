"""(h) SSH brute force, slow brute force, and password spraying / user enumeration.

Failures are the ``SSH_FAILURES`` outcomes of ``record.py`` (failed password or key, invalid
user, connection closed while authenticating, too many attempts). One attempt by a bot often
logs two or three of these lines; the thresholds are set with that in mind.

- ``ssh-bruteforce``: a leaky bucket of failures per address, ``ssh_burst`` failures then one per
  ``ssh_leak`` seconds (default 8, then one per 10 s: a person mistyping a password three times
  stays far below).
- ``ssh-slow-bruteforce``: the same with ``ssh_slow_burst`` / ``ssh_slow_leak`` (15, then one per
  10 minutes) — a bot pacing itself under fail2ban's usual 5-in-10-minutes.
- ``ssh-spray``: at least ``ssh_spray_users`` distinct user names failing from one address within
  ``ssh_spray_window`` seconds: trying one password (or a short list) across many accounts, or
  enumerating accounts.

Successful logins never count and never reset the counts (a bot that guesses right is still the
bot). State: one ``BoundedMap`` of ``max_clients`` addresses, created at the first failure; each
holds two floats, a window start and at most ``ssh_spray_users`` user names.
"""

from __future__ import annotations

from sakimori.monitoring.detectors.config import DetectorConfig
from sakimori.monitoring.detectors.interface import BoundedMap, Detector, example
from sakimori.monitoring.record import SSH_FAILURES, Record


class _Failures:
    __slots__ = ("count", "examples", "fast", "first", "slow", "start", "users")

    def __init__(self, record: Record) -> None:
        self.fast = record.ts
        self.slow = record.ts
        self.start = record.ts
        self.first = record.time
        self.count = 0
        self.users: set[str] = set()
        self.examples: list[str] = []


class SshDetector(Detector):
    name = "ssh-bruteforce"
    slow = "ssh-slow-bruteforce"
    spray = "ssh-spray"

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__(config)
        self._clients: BoundedMap[_Failures] = BoundedMap(config.max_clients)

    def feed(self, record: Record) -> None:
        if record.outcome not in SSH_FAILURES:
            return
        config = self.config
        ts = record.ts
        self.sweep(ts)
        client = record.client
        state = self._clients.get(client)
        if state is None:
            state = _Failures(record)
            self._clients.put(client, state)
        state.count += 1
        if len(state.examples) < config.examples:
            state.examples.append(example(record))
        # Leaky buckets kept as "empty at" times (see rate.py).
        fast_limit = config.ssh_burst * config.ssh_leak
        state.fast = max(state.fast, ts) + config.ssh_leak
        if state.fast - ts > fast_limit:
            state.fast = ts + fast_limit + config.ssh_leak
            self.evidence(
                client,
                record,
                f"SSH authentication failures faster than one per {config.ssh_leak:g}s after "
                f"{config.ssh_burst}",
                first=state.first,
                earlier=state.examples,
                count=config.ssh_burst + 1,
            )
        slow_limit = config.ssh_slow_burst * config.ssh_slow_leak
        state.slow = max(state.slow, ts) + config.ssh_slow_leak
        if state.slow - ts > slow_limit:
            state.slow = ts + slow_limit + config.ssh_slow_leak
            if (self.name, client) in self._open:
                return  # already reported as a (fast) brute force
            self.evidence(
                client,
                record,
                f"SSH authentication failures faster than one per {config.ssh_slow_leak:g}s "
                f"after {config.ssh_slow_burst}",
                name=self.slow,
                first=state.first,
                earlier=state.examples,
                count=config.ssh_slow_burst + 1,
            )
        if ts - state.start > config.ssh_spray_window:
            state.start, state.users = ts, set()
        if record.user and len(state.users) < config.ssh_spray_users:
            state.users.add(record.user)
        if len(state.users) >= config.ssh_spray_users:
            self.evidence(
                client,
                record,
                f"SSH failures for {config.ssh_spray_users}+ distinct users within "
                f"{config.ssh_spray_window:g}s (spraying or user enumeration)",
                name=self.spray,
                first=state.first,
                earlier=state.examples,
                count=len(state.users),
            )
