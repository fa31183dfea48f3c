"""Shared pytest hooks: print the browser latency measured by test_browser.py at the end of the run."""
import statistics
import sys


def pytest_terminal_summary(terminalreporter):
    browser = sys.modules.get("test_browser") or sys.modules.get("tests.test_browser")
    latencies = getattr(browser, "LATENCIES", None)
    if latencies:
        terminalreporter.write_sep("-", "browser latency: slider keydown -> new plot image (median of 20 moves)")
        for notebook, ms in latencies.items():
            terminalreporter.write_line(f"{notebook:32s} {ms:6.0f} ms")
        terminalreporter.write_line(f"{'median over notebooks':32s} {statistics.median(latencies.values()):6.0f} ms")
