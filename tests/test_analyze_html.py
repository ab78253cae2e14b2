"""The analyze HTML page: content present, untrusted strings escaped, nothing fetched remotely,
and it actually renders in a real browser (headless Chromium)."""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Any

from gateway.analyze.html import render_html
from tests.chromium import screenshot

SVG_NS = "http://www.w3.org/2000/svg"


def _report() -> dict[str, Any]:
    return {
        "labgw_analyze": 1,
        "inputs": ["x.csv"],
        "volume": {
            "records": 1000,
            "accepted": 950,
            "rejected": 50,
            "practices": 12,
            "vendors": {"XMO": 400, "WinPLC": 600},
            "first": "2025-01-03",
            "last": "2025-12-30",
            "per_month": {f"2025-{m:02d}": 60 + 5 * m for m in range(1, 13)},
        },
        "codes": [
            {
                "system": "FEE",
                "code": "9903",
                "count": 120,
                "practices": 7,
                "npu": "NPU01685",
                "name": "INR",
                "domain": "biochemistry",
                "shareable": True,
                "destination": "lsp",
            },
            {
                "system": "LOCAL",
                "code": "<script>",
                "count": 30,
                "practices": 1,
                "npu": None,
                "name": None,
                "domain": None,
                "shareable": None,
                "destination": None,
            },
        ]
        + [
            {
                "system": "NPU",
                "code": f"NPU{i:05d}",
                "count": i,
                "practices": 1,
                "npu": f"NPU{i:05d}",
                "name": f"Test {i}",
                "domain": "biochemistry",
                "shareable": True,
                "destination": "lsp",
            }
            for i in range(1, 20)
        ],
        "unmapped": [{"system": "LOCAL", "code": "<script>", "count": 12, "practices": 2}],
        "unit_mismatches": [
            {
                "system": "NPU",
                "code": "NPU19748",
                "npu": "NPU19748",
                "unit": "mmol/l",
                "expected": "mg/L",
                "count": 3,
            }
        ],
        "routing": {
            "lsp": 700,
            "miba": 100,
            "filtered": {"not shareable": 20, "rejected at intake": 50},
            "notifiable": 4,
            "consent_refused": 9,
        },
        "quality": [
            {
                "code": "AQ-CPR-MISSING",
                "title": "CPR number missing",
                "count": 5,
                "share": 0.005,
                "examples": ["WPL-1/v1"],
                "recommendation": "Check <b>intake</b> & fix",
            }
        ],
    }


def _empty_report() -> dict[str, Any]:
    return {
        "labgw_analyze": 1,
        "inputs": [],
        "volume": {
            "records": 0,
            "accepted": 0,
            "rejected": 0,
            "practices": 0,
            "vendors": {},
            "first": None,
            "last": None,
            "per_month": {},
        },
        "codes": [],
        "unmapped": [],
        "unit_mismatches": [],
        "routing": {"lsp": 0, "miba": 0, "filtered": {}, "notifiable": 0, "consent_refused": 0},
        "quality": [],
    }


def test_html_shows_the_report_and_escapes_its_strings() -> None:
    html = render_html(_report())
    assert html.startswith("<!DOCTYPE html>")
    for text in [
        "1,000",
        "950",
        "2025-01-03",
        "2025-12-30",
        "NPU01685",
        "INR",
        "AQ-CPR-MISSING",
        "CPR number missing",
        "0.5 %",
        "WPL-1/v1",
        "not shareable",
        "rejected at intake",
        "mg/L",
        "2025-12",
        "<svg",
    ]:
        assert text in html, text
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<b>intake</b>" not in html
    assert "Check &lt;b&gt;intake&lt;/b&gt; &amp; fix" in html
    # only the top 15 codes are charted: 15 bars in the codes chart (+ 12 months)
    assert html.count('<rect class="bar"') == 12 + 15


def test_html_refers_to_nothing_outside_itself() -> None:
    for report, charts in ((_report(), True), (_empty_report(), False)):
        html = render_html(report)
        urls = re.findall(r"https?://[^\s\"'<>]*", html)
        assert set(urls) == ({SVG_NS} if charts else set())
        assert "https://" not in html
        assert "http://" not in html.replace(SVG_NS, "")
        assert "<link" not in html and "@import" not in html and "url(" not in html


def test_empty_report_renders() -> None:
    html = render_html(_empty_report())
    assert html.startswith("<!DOCTYPE html>")
    assert html.rstrip().endswith("</html>")
    assert "none found" in html
    assert "None" not in html


def test_html_renders_in_headless_chromium(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(_report()), encoding="utf-8")
    data = screenshot(page, tmp_path / "shot.png", tmp_path / "profile", height=2000)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 5_000
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width == 1280
    assert height > 0
