"""(c) No sub-resources: a client asking for many pages and never for their CSS/JS/images.

A browser showing a page fetches its styles, scripts, images and fonts (or revalidates them);
tools ask for pages only. Per address *and* user agent (several people behind one NAT address
must not hide a tool, and a tool must not hide behind them), in a window of ``assets_window``
seconds: an alert when at least ``assets_min_pages`` page requests to at least
``assets_min_distinct`` distinct paths came with no static request at all, faster than one page
per ``assets_max_mean_gap`` seconds on average (people reading pages with every asset already
cached are slower than that).

Known limit: API-only hosts have no sub-resources; their machine clients match by design.

State: per (address, agent) — in this detector's ``BoundedMap`` of ``max_clients`` keys when
it runs alone, under the address's shared state (up to 17 agents each) in ``DetectorSet``;
each holds five numbers, the first path, and a set of at most ``assets_min_distinct`` paths
made at the second path.
"""

from __future__ import annotations

from sakimori.monitoring.detectors.config import DetectorConfig
from sakimori.monitoring.detectors.features import is_static
from sakimori.monitoring.detectors.interface import BoundedMap, Detector, example
from sakimori.monitoring.record import Record


class _Pages:
    __slots__ = ("examples", "first", "first_path", "last_ts", "pages", "paths", "start", "statics")

    def __init__(self, record: Record) -> None:
        self.start = record.ts
        self.first = record.time
        self.last_ts = record.ts
        self.pages = 0
        self.statics = 0
        self.first_path = record.path
        self.paths: set[str] | None = None
        self.examples: list[str] = []


def _reason(pages: int, distinct: int, agent: str) -> str:
    return (
        f"{pages} page requests to {distinct}+ paths, no CSS/JS/image/font "
        f"(user agent {agent[:60]!r})"
    )


class AssetsDetector(Detector):
    name = "http-no-assets"

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__(config)
        self._clients: BoundedMap[_Pages] = BoundedMap(config.max_clients)

    def feed(self, record: Record) -> None:
        self.sweep(record.ts)
        key = f"{record.client} {record.agent}"
        state = self._clients.get(key)
        new = self.step(record, state, is_static(record.path))
        if new is not state:
            self._clients.put(key, new)

    def step(self, record: Record, state: _Pages | None, static: bool) -> _Pages:
        """Take one request of the (address, agent) whose state is ``state`` (``None`` at its
        first); returns the state to keep. The caller sweeps."""
        config = self.config
        ts = record.ts
        if state is None or ts - state.start > config.assets_window:
            state = _Pages(record)
        if static:
            state.statics += 1
            return state
        state.pages += 1
        if ts > state.last_ts:
            state.last_ts = ts
        if state.statics:
            return state
        paths = state.paths
        if paths is None:
            if record.path == state.first_path:
                distinct = 1
            else:
                paths = state.paths = {state.first_path, record.path}
                distinct = 2
        else:
            if len(paths) < config.assets_min_distinct:
                paths.add(record.path)
            distinct = len(paths)
        if len(state.examples) < config.examples:
            state.examples.append(example(record))
        if (
            state.pages >= config.assets_min_pages
            and distinct >= config.assets_min_distinct
            and state.last_ts - state.start <= config.assets_max_mean_gap * state.pages
        ):
            self.evidence(
                record.client,
                record,
                (_reason, state.pages, distinct, record.agent),
                first=state.first,
                earlier=state.examples,
                count=state.pages,
            )
        return state
