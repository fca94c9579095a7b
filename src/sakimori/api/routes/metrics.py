"""``GET /metrics``: the service's operational figures in the Prometheus text format.

Series (each documented in docs/operations.md):

- ``sakimori_http_requests_total{method, route, status}`` — requests answered, by route
  *template* (``/v1/findings/{finding_id}``, never the id itself; ``unmatched`` for paths no
  route serves), so the number of series stays bounded;
- ``sakimori_http_request_duration_seconds{method, route}`` — a latency histogram;
- ``sakimori_intel_source_age_seconds{source, kind}`` and
  ``sakimori_intel_source_expected_refresh_seconds{source, kind}`` — time since each intel
  source was last checked, and how often it should be; ``sakimori_intel_source_stale{…}`` is 1
  when the first is larger (the dashboard shows the same alarm);
- ``sakimori_findings_open{decision}`` — open findings by SSVC decision (``untriaged``: none);
- ``sakimori_jobs{state}`` and ``sakimori_job_queue_depth`` — from the job queue, once one is
  registered with :meth:`PlatformMetrics.register_jobs` (0 until then).

The figures read from the database are read at scrape time; the open findings from the
pre-aggregated snapshot (``services.metrics_snapshot``: as fresh as the dashboard's). Each
application has its own registry (no process-global state), so several apps in one process
(tests) do not mix.

Access: a token of coordinator staff (``coordinator_admin`` or ``analyst``) with the ``read``
scope — the figures are national aggregates. Prometheus sends it with
``authorization: {credentials_file: …}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from sakimori.api.deps import PrincipalDep, Runtime
from sakimori.api.problems import responses
from sakimori.errors import PermissionDenied
from sakimori.services import freshness, metrics_snapshot
from sakimori.services.access import Principal, Scope

router = APIRouter(tags=["operations"])

#: Job counts by state ("queued", "running", "failed", …), read at each scrape.
JobSource = Callable[[Runtime], Mapping[str, int]]

#: Request latency buckets, in seconds: a page or a lookup is milliseconds, an upload seconds.
LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
UNMATCHED: Final = "unmatched"


def _no_jobs(_: Runtime) -> Mapping[str, int]:
    # TODO(jobs): the job queue of issue 4 registers its counts with register_jobs().
    return {}


class _StateCollector(Collector):
    """The figures read from the database at scrape time."""

    def __init__(self, metrics: PlatformMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        runtime = self.metrics.runtime
        age = GaugeMetricFamily(
            "sakimori_intel_source_age_seconds",
            "Seconds since the intel source was last checked (synced or loaded).",
            labels=["source", "kind"],
        )
        expected = GaugeMetricFamily(
            "sakimori_intel_source_expected_refresh_seconds",
            "The longest the intel source should go unchecked.",
            labels=["source", "kind"],
        )
        stale = GaugeMetricFamily(
            "sakimori_intel_source_stale",
            "1 when the intel source is older than its expected refresh interval.",
            labels=["source", "kind"],
        )
        findings = GaugeMetricFamily(
            "sakimori_findings_open", "Open findings by SSVC decision.", labels=["decision"]
        )
        jobs = GaugeMetricFamily("sakimori_jobs", "Jobs by state.", labels=["state"])
        if runtime is not None:
            db = runtime.database
            from sakimori.services import intel as intel_service

            for source in freshness.ages(intel_service.status(db).sources):
                labels = [source.name, source.kind]
                seconds = source.age.total_seconds() if source.age is not None else float("nan")
                age.add_metric(labels, seconds)
                expected.add_metric(labels, source.expected.total_seconds())
                stale.add_metric(labels, 1.0 if source.stale else 0.0)
            report = metrics_snapshot.current(db)
            for decision, count in sorted(report.overall.open_by_decision.items()):
                findings.add_metric([decision or "untriaged"], count)
            counts = dict(self.metrics.job_source(runtime))
        else:
            counts = {}
        for state, count in sorted(counts.items()):
            jobs.add_metric([state], count)
        yield age
        yield expected
        yield stale
        yield findings
        yield jobs
        yield GaugeMetricFamily(
            "sakimori_job_queue_depth",
            "Jobs waiting to run.",
            value=counts.get("queued", 0),
        )


class PlatformMetrics:
    """One application's Prometheus registry: request series, and the database's figures."""

    def __init__(self, runtime: Runtime | None = None) -> None:
        self.runtime = runtime
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "sakimori_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sakimori_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.job_source: JobSource = _no_jobs
        self.registry.register(_StateCollector(self))

    def register_jobs(self, source: JobSource) -> None:
        """Let the job queue report its counts by state (``queued`` is the queue depth)."""
        self.job_source = source

    def observe(self, method: str, route: str | None, status: int, seconds: float) -> None:
        label = route or UNMATCHED
        self.requests.labels(method, label, str(status)).inc()
        self.latency.labels(method, label).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def require_staff(principal: Principal) -> None:
    """Operational figures are national aggregates: coordinator staff, with a read token."""
    if not principal.sees_everything:
        raise PermissionDenied("the operational metrics are for coordinator staff")
    if Scope.READ not in principal.scopes:
        raise PermissionDenied("this token lacks the read scope")


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {}}, "description": "Metrics"},
        **responses(403),
    },
)
def prometheus_metrics(request: Request, principal: PrincipalDep) -> Response:
    """The Prometheus text format (docs/operations.md lists the series). Coordinator staff."""
    require_staff(principal)
    found: PlatformMetrics = request.app.state.metrics
    return Response(found.render(), media_type=CONTENT_TYPE_LATEST)
