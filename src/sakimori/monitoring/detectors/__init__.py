"""Detectors over normalised records, one module per family, and ``DetectorSet`` running all.

=======================  ============================================================  =======
alert name               what                                                          module
=======================  ============================================================  =======
http-rate                non-static requests over a leaky-bucket rate                  rate
http-regular-timing      non-static requests at machine-regular intervals              rate
http-breadth             many distinct non-static paths answered 3xx/4xx               breadth
http-no-assets           many pages, never a CSS/JS/image/font                         assets
http-sensitive-paths     secrets, backups, admin, technology, shells, CVE URIs         paths
http-payload             SQLi, XSS, SSTI, traversal, command injection, JNDI, SSRF     payloads
http-tool-agent          a scanning or exploit tool's user agent                       agents
http-low-and-slow        several different suspicious classes from one address        slow
ssh-bruteforce           SSH failures over a leaky-bucket rate                         ssh
ssh-slow-bruteforce      the same, paced slowly                                        ssh
ssh-spray                SSH failures for many distinct users                          ssh
=======================  ============================================================  =======
"""

from __future__ import annotations

from sakimori.monitoring.detectors.agents import AgentDetector
from sakimori.monitoring.detectors.assets import AssetsDetector
from sakimori.monitoring.detectors.breadth import BreadthDetector
from sakimori.monitoring.detectors.config import DetectorConfig
from sakimori.monitoring.detectors.interface import Alert, Detector
from sakimori.monitoring.detectors.paths import PathsDetector
from sakimori.monitoring.detectors.payloads import PayloadDetector
from sakimori.monitoring.detectors.rate import RateDetector
from sakimori.monitoring.detectors.slow import LowAndSlowDetector
from sakimori.monitoring.detectors.ssh import SshDetector
from sakimori.monitoring.record import HTTP, Record

__all__ = ["Alert", "DetectorConfig", "DetectorSet"]

MALFORMED = "not-http"


class DetectorSet:
    """Every detector, fed each record once; the signal detectors' classes go to low-and-slow."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config = config or DetectorConfig()
        self.rate = RateDetector(config)
        self.breadth = BreadthDetector(config)
        self.assets = AssetsDetector(config)
        self.paths = PathsDetector(config)
        self.payloads = PayloadDetector(config)
        self.agents = AgentDetector(config)
        self.slow = LowAndSlowDetector(config)
        self.ssh = SshDetector(config)
        self.all: tuple[Detector, ...] = (
            self.rate,
            self.breadth,
            self.assets,
            self.paths,
            self.payloads,
            self.agents,
            self.slow,
            self.ssh,
        )

    def feed(self, record: Record) -> None:
        if record.kind != HTTP:
            self.ssh.feed(record)
            return
        self.rate.feed(record)
        self.breadth.feed(record)
        self.assets.feed(record)
        classes = self.paths.feed(record) + self.payloads.feed(record) + self.agents.feed(record)
        if not record.method and not record.path.startswith("/"):  # not an HTTP request line
            classes += (MALFORMED,)
        if classes:
            self.slow.observe(record, classes)

    def take(self) -> list[Alert]:
        """Alerts closed so far."""
        return [alert for detector in self.all for alert in detector.take()]

    def flush(self) -> list[Alert]:
        """Close everything; every alert not yet taken, in order of first sighting."""
        alerts = [alert for detector in self.all for alert in detector.flush()]
        return sorted(alerts, key=lambda a: (a.first_seen, a.client, a.detector))
