"""The browser preview in a real headless Chromium (Debian's chromium and chromium-driver, via selenium).

Type a name, see the artist's and its related artists' cards, tap a quick reply and a card's button,
see the next answers. The page is saved as a screenshot (build/artifacts/browser_preview.png, or
under $TEST_ARTIFACTS_DIR), the artifact a reviewer looks at.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.paths import REPO

CHROMIUM = ("chromium", "chromium-browser")
DRIVER = ("chromedriver", "chromium-driver")


def _which(names) -> str | None:
    return next((found for found in map(shutil.which, names) if found), None)


@pytest.fixture
def browser():
    binary, driver = _which(CHROMIUM), _which(DRIVER)
    if not binary or not driver:
        pytest.fail(
            "the browser test needs Debian's chromium and chromium-driver: "
            "apt-get install chromium chromium-driver (.ci/run installs them)",
            pytrace=False,
        )
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=420,860",
        "--lang=ko-KR",
    ):
        options.add_argument(argument)
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    yield chrome
    chrome.quit()


def card_titles(browser) -> list[list[str]]:
    """The titles of the cards of each carousel on the page, in order."""
    return [
        [title.text for title in carousel.find_elements(By.CSS_SELECTOR, ".card-title")]
        for carousel in browser.find_elements(By.CSS_SELECTOR, ".carousel")
    ]


def test_a_fan_types_a_name_walks_to_related_artists_and_the_page_is_saved(browser, server):  # noqa: F811
    wait = WebDriverWait(browser, 15)
    browser.get(f"{server}/")
    box = browser.find_element(By.ID, "message")
    box.send_keys("블랙핑크", Keys.ENTER)
    wait.until(lambda b: len(card_titles(b)) == 1)
    assert card_titles(browser) == [["BLACKPINK", "TWICE", "Red Velvet", "NewJeans"]]
    bot = [bubble.text for bubble in browser.find_elements(By.CSS_SELECTOR, ".bubble.bot")]
    assert bot[0].startswith("BLACKPINK의 인기곡이에요.")
    first_song = browser.find_element(By.CSS_SELECTOR, ".carousel .card .card-item")
    assert first_song.get_attribute("href").startswith("https://www.youtube.com/results?search_query=BLACKPINK")

    chips = browser.find_elements(By.CSS_SELECTOR, "#quick-replies .chip")
    assert [chip.text for chip in chips] == ["TWICE", "Red Velvet", "NewJeans"]
    chips[1].click()  # Red Velvet
    wait.until(lambda b: len(card_titles(b)) == 2)
    assert card_titles(browser)[1][0] == "Red Velvet"

    ask = browser.find_elements(By.CSS_SELECTOR, ".carousel")[1].find_elements(By.XPATH, ".//button[.='비슷한 가수']")
    browser.execute_script("arguments[0].scrollIntoView({block: 'nearest', inline: 'center'})", ask[0])
    ask[0].click()  # the first related artist's card: TWICE
    wait.until(lambda b: len(card_titles(b)) == 3)
    assert card_titles(browser)[2][0] == "TWICE"
    folder = Path(os.environ.get("TEST_ARTIFACTS_DIR", REPO / "build" / "artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / "browser_preview.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000

    box.send_keys("블랙핑그", Keys.ENTER)  # a typo: suggestions as chips
    wait.until(ec.text_to_be_present_in_element((By.ID, "log"), "혹시 BLACKPINK 찾으셨나요?"))
    wait.until(
        lambda b: [c.text for c in b.find_elements(By.CSS_SELECTOR, "#quick-replies .chip")][:1] == ["BLACKPINK"]
    )


# For each bot bubble: the Korean words whose boxes lie on more than one line (a word broken mid-syllable).
SPLIT_WORDS = """
const split = [];
for (const bubble of document.querySelectorAll(".bubble.bot")) {
  const node = bubble.firstChild;
  if (!node || node.nodeType !== Node.TEXT_NODE) continue;
  for (const match of node.data.matchAll(/\\S*[\\uac00-\\ud7a3]\\S*/g)) {
    const range = document.createRange();
    range.setStart(node, match.index);
    range.setEnd(node, match.index + match[0].length);
    const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
    if (tops.size > 1) split.push(match[0]);
  }
}
return split;
"""
# Every <img> on the page that has not loaded a picture (complete, with a width).
BROKEN_IMAGES = "return [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src);"
LINES = (
    "return [...document.querySelectorAll('.bubble.bot')].map(b => Math.round(b.getBoundingClientRect().height / "
    "parseFloat(getComputedStyle(b).lineHeight)));"
)


@pytest.fixture
def demo_server(tmp_path):
    """The skill server over a demo-like mart from the synthetic source (Hangul artists included), no Spark."""
    from tests.chatbot_lambda import synthetic_mart

    with synthetic_mart.skill_server(tmp_path) as url:
        yield url


def test_a_korean_fan_finds_hangul_initials_and_romanized_names_with_whole_words_and_no_broken_images(
    browser, demo_server
):
    from tests.chatbot_lambda import synthetic_mart

    wait = WebDriverWait(browser, 15)
    browser.get(f"{demo_server}/")
    box = browser.find_element(By.ID, "message")
    artist = synthetic_mart.hangul_artists()[0]
    for count, typed in enumerate((artist.name, artist.initials, artist.romanized, "rasowa rawq 노래"), 1):
        box.send_keys(typed, Keys.ENTER)
        wait.until(lambda b, n=count: len(b.find_elements(By.CSS_SELECTOR, ".bubble.bot")) == n)
        if count == 4:
            break  # a name the mart lacks: a long reply to wrap
        wait.until(lambda b, n=count: len(card_titles(b)) == n)
        card = browser.find_elements(By.CSS_SELECTOR, ".carousel")[-1].find_element(By.CSS_SELECTOR, ".card")
        assert card.find_element(By.CSS_SELECTOR, ".card-title").text == artist.name, typed
        songs = [
            title.get_attribute("textContent") for title in card.find_elements(By.CSS_SELECTOR, ".card-item .title")
        ]
        assert songs == artist.tracks[:3], typed
        bot = browser.find_elements(By.CSS_SELECTOR, ".bubble.bot")[-1].text
        assert bot.startswith(f"{artist.name}의 인기곡이에요.") and "아직 몰라요" not in bot, typed
    assert browser.execute_script(BROKEN_IMAGES) == []
    assert browser.find_elements(By.CSS_SELECTOR, ".card-item .thumb")  # no picture: a placeholder tile
    assert max(browser.execute_script(LINES)) >= 3, "the bubbles are too short to show any wrapping"
    assert browser.execute_script(SPLIT_WORDS) == []
    folder = Path(os.environ.get("TEST_ARTIFACTS_DIR", REPO / "build" / "artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(folder / "browser_preview_korean.png"))


def test_a_picture_that_does_not_load_becomes_the_placeholder(browser, server):
    """The chatbot mart's pictures (https://i.test/...) cannot load: each is replaced, none shows broken."""
    wait = WebDriverWait(browser, 15)
    browser.get(f"{server}/")
    browser.find_element(By.ID, "message").send_keys("블랙핑크", Keys.ENTER)
    wait.until(lambda b: len(card_titles(b)) == 1)
    wait.until(lambda b: b.execute_script("return document.images.length") == 0)
    assert len(browser.find_elements(By.CSS_SELECTOR, ".card-item .thumb")) >= 12
