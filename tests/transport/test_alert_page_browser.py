"""The pop-up page in a real headless Chromium (Debian `chromium` + `chromium-driver`, driven by selenium), against an
agent built by the composition root: a `Check` sent over gRPC shows its card within 1 s with the right text;
"继续执行" without a reason is refused, with a reason it is recorded in the decision store; a check the agent gave
up on shows as "check unavailable". Screenshots are written to tests/artifacts/ (alert-page.png: the decided card;
alert-page-refused.png, alert-page-unavailable.png).

Without chromium the test is skipped, unless FUNDGUARD_REQUIRE_BROWSER is set (`.ci/run` sets it and installs
chromium): there, a missing browser fails.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from fundguard.agent.alerts import render_card
from fundguard.agent.app import Agent, build_agent
from fundguard.agent.config import load_settings
from fundguard.agent.engine.engine import check
from fundguard.agent.transport.http_alerts import page_texts
from fundguard.agent.transport.proto_codec import request_from_proto
from fundguard.v1 import compliance_pb2 as pb
from fundguard.v1 import compliance_pb2_grpc as pb_grpc

from .test_grpc_server import iud_request

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
WORKSTATION = "WS-BROWSER-1"
ZH = page_texts()["zh-CN"]

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = pytest.mark.slow


def _browser_paths() -> tuple[str, str] | None:
    binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    return (binary, driver) if binary and driver else None


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    paths = _browser_paths()
    if paths is None:
        if os.environ.get("FUNDGUARD_REQUIRE_BROWSER"):
            pytest.fail("chromium and chromedriver are required here (FUNDGUARD_REQUIRE_BROWSER is set)")
        pytest.skip("chromium / chromedriver not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=900,1000",
                 "--lang=zh-CN", "--disable-gpu"):  # fmt: skip
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})  # a Chinese workstation
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=paths[1]))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    root = tmp_path_factory.mktemp("browser-agent")
    settings = load_settings(None, {"grpc.address": "127.0.0.1:0", "http.address": "127.0.0.1:0",
                                    "data.dir": root / "data"})  # fmt: skip
    running = build_agent(settings)
    running.start()
    yield running
    running.stop(grace=0)


def _page_url(agent: Agent) -> str:
    http = next(x.address for x in agent.listeners if x.name == "http")
    return f"http://{http}/alerts?workstation={WORKSTATION}"


def _wait(driver: WebDriver, seconds: float, what: str, found: object) -> WebElement:
    try:
        element: WebElement = WebDriverWait(driver, seconds, poll_frequency=0.02).until(found)  # type: ignore[arg-type]
    except TimeoutException:
        pytest.fail(f"{what} did not happen within {seconds} s")
    return element


def _expected_summary(agent: Agent, request: pb.CheckRequest) -> str:
    """The zh card summary of the sex-rule alert, rendered by the cards module from the pure engine's answer."""
    kb, parsed = agent.store.current, request_from_proto(request)
    assert parsed.service_date is not None
    result = check(parsed.request, kb, parsed.service_date, "J")
    (alert,) = [a for a in result.alerts if "6374" in [line.rx_id for line in a.lines]]
    return render_card(alert, kb.revision, "zh-CN").summary


def test_card_arrives_and_continue_needs_a_reason(agent: Agent, browser: WebDriver) -> None:
    browser.get(_page_url(agent))
    _wait(browser, 10, "the page connecting to its stream",
          lambda d: d.find_element(By.CSS_SELECTOR, '#status[data-state="connected"]'))  # fmt: skip

    request = iud_request(workstation_id=WORKSTATION, service_date="2025-06-14")
    sent = time.monotonic()
    with grpc.insecure_channel(agent.address) as channel:
        response = pb_grpc.ComplianceAgentStub(channel).Check(request, timeout=10)
    (alert,) = [a for a in response.alerts if "6374" in a.rx_ids]
    card = _wait(browser, 1.0, "the card appearing",
                 lambda d: d.find_element(By.CSS_SELECTOR, f'article[data-jr-id="{alert.jr_id}"]'))  # fmt: skip
    arrived_ms = (time.monotonic() - sent) * 1000
    print(f"card on screen {arrived_ms:.0f} ms after the Check was sent")
    summary = card.find_element(By.CSS_SELECTOR, ".summary").text
    assert (_expected_summary(agent, request), alert.rule_name) == (
        summary,
        card.find_element(By.CSS_SELECTOR, ".rule").text,
    ), f"card after {arrived_ms:.0f} ms"

    cont = card.find_element(By.CSS_SELECTOR, "button.continue")
    assert ZH["continue"] == cont.text
    cont.click()  # no reason: refused by the agent, shown on the card, nothing stored
    refusal = _wait(browser, 5, "the refusal", lambda d: card.find_element(By.CSS_SELECTOR, ".refusal:not([hidden])"))
    assert (ZH["refused_reason"], None) == (refusal.text, agent.decisions.get(alert.jr_id))
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "alert-page-refused.png"))

    reason = "患者已确认为女性，性别登记有误"
    card.find_element(By.CSS_SELECTOR, "textarea.reason").send_keys(reason)
    cont.click()
    said = _wait(browser, 5, "the decision", lambda d: card.find_element(By.CSS_SELECTOR, ".decision:not([hidden])"))
    _wait(browser, 5, "the decided text", lambda d: "已决定" in said.text)
    stored = agent.decisions.get(alert.jr_id)
    assert stored is not None
    assert ("1", reason, ZH["decided_continue"].replace("{reason}", reason)) == (
        stored.dspo_way,
        stored.dspo_way_rea,
        said.text,
    )
    assert browser.save_screenshot(str(ARTIFACTS / "alert-page.png"))


def test_an_unavailable_check_shows_on_the_page(agent: Agent, browser: WebDriver) -> None:
    """The service's "check unavailable" (what a transport reports past its budget) reaches the page as a notice."""
    browser.get(_page_url(agent))
    _wait(browser, 10, "the page connecting to its stream",
          lambda d: d.find_element(By.CSS_SELECTOR, '#status[data-state="connected"]'))  # fmt: skip
    parsed = request_from_proto(iud_request(workstation_id=WORKSTATION))
    agent.service.unavailable(parsed, "check unavailable: not finished within the agent's check budget (300 ms)")
    notice = _wait(browser, 1.0, "the notice", lambda d: d.find_element(By.CSS_SELECTOR, "article.unavailable"))
    summary = notice.find_element(By.CSS_SELECTOR, ".summary").text
    assert ZH["unavailable_body"].replace("{mdtrt_id}", "E-0001") == summary
    assert "300 ms" in notice.find_element(By.CSS_SELECTOR, ".meta").text
    browser.save_screenshot(str(ARTIFACTS / "alert-page-unavailable.png"))
