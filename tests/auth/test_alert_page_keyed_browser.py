"""The pop-up page with `[auth]` in a real headless Chromium, against an agent built by the composition root in
token mode: opened with its workstation key, the page passes the key on to its stream (the card arrives) and to its
feedback ("返回修改" is stored); opened with another workstation's key it gets 403, never a stream.

Skipped without chromium and chromedriver, unless FUNDGUARD_REQUIRE_BROWSER is set (as in
tests/transport/test_alert_page_browser.py).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from fundguard.agent.app import Agent, build_agent
from fundguard.agent.config import load_settings
from fundguard.v1 import compliance_pb2_grpc as pb_grpc
from tests.transport.test_grpc_server import iud_request

from .auth_samples import Tokens

WORKSTATION = "WS-KEYED-1"

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """A headless Chromium, or a skip when there is none."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if not (binary and driver):
        if os.environ.get("FUNDGUARD_REQUIRE_BROWSER"):
            pytest.fail("chromium and chromedriver are required here (FUNDGUARD_REQUIRE_BROWSER is set)")
        pytest.skip("chromium / chromedriver not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--lang=zh-CN"):
        options.add_argument(flag)
    chrome = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver))
    yield chrome
    chrome.quit()


@pytest.fixture
def agent(tmp_path: Path, tokens: Tokens) -> Iterator[Agent]:
    """An agent with gRPC and HTTP on free ports, HIS clients authenticated by token."""
    settings = load_settings(None, {"grpc.address": "127.0.0.1:0", "http.address": "127.0.0.1:0",
                                    "data.dir": tmp_path / "data", "auth.mode": "token",
                                    "auth.tokens_file": tokens.path})  # fmt: skip
    running = build_agent(settings)
    running.start()
    yield running
    running.stop(grace=0)


def _wait(driver: WebDriver, seconds: float, what: str, found: object) -> WebElement:
    try:
        element: WebElement = WebDriverWait(driver, seconds, poll_frequency=0.02).until(found)  # type: ignore[arg-type]
    except TimeoutException:
        pytest.fail(f"{what} did not happen within {seconds} s")
    return element


def test_keyed_page_streams_and_records_and_another_key_is_refused(
    agent: Agent, browser: WebDriver, tokens: Tokens
) -> None:
    """With its key the page connects, shows the workstation's card and stores "返回修改" (dspo_way 2); the same
    page URL with another workstation's key answers 403."""
    assert agent.auth is not None and agent.auth.page_keys is not None
    http = next(x.address for x in agent.listeners if x.name == "http")
    browser.get(f"http://{http}/alerts?workstation={WORKSTATION}&key={agent.auth.page_keys.key(WORKSTATION)}")
    _wait(browser, 10, "the page connecting to its stream",
          lambda d: d.find_element(By.CSS_SELECTOR, '#status[data-state="connected"]'))  # fmt: skip
    with grpc.insecure_channel(agent.address) as channel:
        response = pb_grpc.ComplianceAgentStub(channel).Check(
            iud_request(workstation_id=WORKSTATION, service_date="2025-06-14"),
            metadata=(("authorization", f"Bearer {tokens.token}"),), timeout=10,
        )  # fmt: skip
    (alert,) = [a for a in response.alerts if "6374" in a.rx_ids]
    card = _wait(browser, 5, "the card appearing",
                 lambda d: d.find_element(By.CSS_SELECTOR, f'article[data-jr-id="{alert.jr_id}"]'))  # fmt: skip
    card.find_element(By.CSS_SELECTOR, "button.modify").click()
    _wait(browser, 5, "the decision", lambda d: card.find_element(By.CSS_SELECTOR, ".decision:not([hidden])"))
    stored = agent.decisions.get(alert.jr_id)
    assert stored is not None
    assert "2" == stored.dspo_way
    browser.get(f"http://{http}/alerts?workstation={WORKSTATION}&key={agent.auth.page_keys.key('WS-OTHER')}")
    assert "the key is not this workstation's" in browser.page_source
