"""Rate, regular timing, breadth and no-assets detectors: positives, near misses, bounds."""

from __future__ import annotations

from sakimori.monitoring.detectors import DetectorConfig, DetectorSet
from sakimori.monitoring.detectors.assets import AssetsDetector
from sakimori.monitoring.detectors.breadth import BreadthDetector
from sakimori.monitoring.detectors.interface import BoundedMap
from sakimori.monitoring.detectors.rate import RateDetector
from tests.monitoring.detectors.streams import http, human_session, run, run_all

CONFIG = DetectorConfig()


def test_rate_fires_on_a_burst_of_pages() -> None:
    records = [http(i * 0.01, f"/p{i}") for i in range(60)]
    alerts = run(RateDetector(CONFIG), records)
    assert [a.detector for a in alerts] == ["http-rate"]
    assert alerts[0].client == "198.51.100.7"
    assert alerts[0].count >= CONFIG.rate_burst + 1
    assert 1 <= len(alerts[0].examples) <= CONFIG.examples


def test_rate_near_miss_burst_of_assets_and_slow_pages() -> None:
    assets = [http(i * 0.01, f"/img/{i}.png") for i in range(500)]
    pages = [http(i * 0.6, f"/p{i}") for i in range(500)]  # 1.7/s, under 2/s
    burst = [http(1000 + i * 0.01, f"/q{i}") for i in range(CONFIG.rate_burst)]
    assert run(RateDetector(CONFIG), assets + pages + burst) == []


def test_regular_timing_fires_on_a_sleeping_script() -> None:
    records = [http(i * 3.0, f"/probe/{i}") for i in range(40)]
    alerts = run(RateDetector(CONFIG), records)
    assert [a.detector for a in alerts] == ["http-regular-timing"]


def test_regular_timing_near_misses() -> None:
    poller = [http(i * 3.0, "/api/status") for i in range(40)]  # one URL on a timer
    jitter = [
        http(sum(1 + (k * 7) % 9 for k in range(i)), f"/p{i}", client="2.2.2.2") for i in range(40)
    ]
    assert run(RateDetector(CONFIG), poller + jitter) == []


def test_breadth_fires_on_a_wordlist() -> None:
    records = [
        http(i * 0.5, f"/word{i}", status=404, agent="Mozilla/5.0 Chrome/120.0") for i in range(15)
    ]
    alerts = run(BreadthDetector(CONFIG), records)
    assert [(a.detector, a.count) for a in alerts] == [("http-breadth", 15)]
    assert alerts[0].first_seen == records[0].time
    assert alerts[0].last_seen == records[-1].time


def test_breadth_near_misses() -> None:
    few = [http(i, f"/missing{i}", status=404) for i in range(CONFIG.breadth_min_paths - 1)]
    diluted = [http(i, f"/ok{i}", client="3.3.3.3") for i in range(20)]
    diluted += [http(20 + i, f"/w{i}", status=404, client="3.3.3.3") for i in range(12)]  # 12/32
    spread = [http(i * 700, f"/m{i}", status=404, client="4.4.4.4") for i in range(20)]
    static = [http(i, f"/img/{i}.png", status=404, client="5.5.5.5") for i in range(50)]
    assert run(BreadthDetector(CONFIG), few + diluted + spread + static) == []


def test_no_assets_fires_on_pages_only() -> None:
    records = [http(i * 0.5, f"/page/{i}") for i in range(25)]
    alerts = run(AssetsDetector(CONFIG), records)
    assert [a.detector for a in alerts] == ["http-no-assets"]


def test_no_assets_near_misses() -> None:
    with_assets = [http(i * 0.5, f"/page/{i}") for i in range(25)] + [http(3, "/s.css")]
    with_assets.sort(key=lambda r: r.ts)
    reader = [http(i * 30, f"/page/{i}", client="6.6.6.6") for i in range(25)]  # slow reader
    same = [http(i * 0.5, "/api/feed", client="7.7.7.7") for i in range(25)]
    assert run(AssetsDetector(CONFIG), with_assets + reader + same) == []


def test_people_browsing_raise_nothing() -> None:
    records = []
    for n in range(20):
        records += human_session(f"192.0.2.{n}", start=n * 3.0)
    records.sort(key=lambda r: r.ts)
    assert run_all(records) == []


def test_state_stays_bounded_with_many_clients() -> None:
    config = DetectorConfig(max_clients=100)
    detectors = [RateDetector(config), BreadthDetector(config), AssetsDetector(config)]
    for i in range(5000):
        record = http(
            i * 0.001, f"/x{i}", client=f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", status=404
        )
        for detector in detectors:
            detector.feed(record)
    maps = [m for d in detectors for m in vars(d).values() if isinstance(m, BoundedMap)]
    assert len(maps) == 3  # rate keeps bucket and timing in one object per address
    assert all(len(m) == 100 for m in maps)


def test_detector_set_state_stays_bounded_with_many_clients() -> None:
    config = DetectorConfig(max_clients=100)
    detectors = DetectorSet(config)
    for i in range(5000):
        client = f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"
        detectors.feed(http(i * 0.001, f"/x{i}", client=client, status=404))
        detectors.feed(http(i * 0.001, "/.env", client=client, status=404, agent=f"bot/{i}"))
    assert len(detectors) == 100
    assert all(
        len(m) == 0 for d in detectors.all for m in vars(d).values() if isinstance(m, BoundedMap)
    )  # the standalone maps stay unused: the set keeps one state per address


def test_bounded_map_is_lru() -> None:
    bounded: BoundedMap[int] = BoundedMap(2)
    assert bounded.put("a", 1) is None
    bounded.put("b", 2)
    assert bounded.get("a") == 1  # a is now the most recent
    assert bounded.put("c", 3) == ("b", 2)
    assert bounded.get("b") is None
    assert len(bounded) == 2


def test_open_alerts_are_bounded_and_emitted_not_lost() -> None:
    config = DetectorConfig(max_open_alerts=3)
    detector = BreadthDetector(config)
    for c in range(5):
        for i in range(12):
            detector.feed(http(c * 20 + i * 0.1, f"/w{i}", client=f"9.9.9.{c}", status=404))
    assert len(detector.take()) == 2  # forced out early
    assert len(detector.flush()) == 3


def test_alerts_close_when_idle() -> None:
    detector = BreadthDetector(CONFIG)
    for i in range(12):
        detector.feed(http(i, f"/w{i}", status=404))
    detector.feed(http(CONFIG.alert_idle + 100, "/later", client="1.1.1.1"))
    assert [a.client for a in detector.take()] == ["198.51.100.7"]
    assert detector.flush() == []
