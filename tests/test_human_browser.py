"""The human-baseline page in a real headless Chromium: clicks, number keys, resume, accuracy.

Needs Debian's chromium + chromium-driver and pip's selenium; with CI set, their absence fails.
QD_HUMAN_SCREENSHOT=docs/human.png makes the real-drawings test save its screenshot there.
"""

import json
import os
import pathlib
import shutil
import time

import pytest

from conftest import LOCAL_TEN
from test_human import CATS, serving

INSTALL = ("apt-get install -y chromium chromium-driver && pip install -e '.[dev]' "
           "(see .ci/run)")
# Without the background-networking flags Chromium's own fetches stall on a closed network.
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=700,900", "--hide-scrollbars")


def _missing(what: str):
  if os.environ.get("CI"):
    pytest.fail(f"{what}, and CI is set: install it with {INSTALL}", pytrace=False)
  pytest.skip(f"{what}; install it with {INSTALL}")


@pytest.fixture
def browser(tmp_path):
  try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
  except ImportError:
    _missing("selenium is not installed")
  chromium = shutil.which("chromium") or shutil.which("chromium-browser")
  driver_path = shutil.which("chromedriver")
  if not chromium or not driver_path:
    _missing("chromium or chromedriver is not on PATH")
  options = webdriver.ChromeOptions()
  options.binary_location = chromium  # both paths given: Selenium Manager downloads nothing
  for flag in FLAGS:
    options.add_argument(flag)
  options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
  driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
  driver.set_page_load_timeout(30)
  yield driver
  driver.quit()


def js(browser, expr):
  return browser.execute_script(f"return {expr};")


def text(browser, element_id):
  return js(browser, f"document.getElementById('{element_id}').textContent")


def wait(browser, cond, what, timeout=20):
  end = time.monotonic() + timeout
  while time.monotonic() < end:
    if cond():
      return
    time.sleep(0.05)
  raise AssertionError(f"timed out waiting for {what}; page error: {text(browser, 'error')!r}")


def next_drawing(browser, done: int, n: int) -> int:
  """Waits until drawing done+1 is on screen and answerable; returns its index."""
  img = "document.getElementById('drawing')"
  ready = (f"{img}.complete && {img}.naturalWidth === 28 && "
           "!document.querySelector('#choices button').disabled && "
           f"document.getElementById('progress').textContent === '{done}/{n}'")
  wait(browser, lambda: js(browser, ready), f"drawing {done + 1} at progress {done}/{n}")
  return int(js(browser, f"{img}.getAttribute('src')").split("/")[-1].split(".")[0])


def start(browser, url, name=None):
  from selenium.webdriver.common.by import By
  browser.get(url)
  box = browser.find_element(By.ID, "name")
  if name is not None:
    box.clear()
    box.send_keys(name)
  browser.find_element(By.ID, "go").click()


def click(browser, category):
  from selenium.webdriver.common.by import By
  button = browser.find_element(By.CSS_SELECTOR, f"#choices button[data-category='{category}']")
  assert button.text.split("\n")[0].strip().startswith(str(KEY_OF[category]))
  button.click()


def press(browser, key):
  from selenium.webdriver.common.action_chains import ActionChains
  ActionChains(browser).send_keys(key).perform()


KEY_OF = {c: "1234567890"[i] for i, c in enumerate(CATS.split(","))}


def test_clicks_keys_resume_and_accuracy(browser, tiny_data_dir, tmp_path):
  with serving(tmp_path, tiny_data_dir, n=4) as server:
    truth = [d.category for d in server.session.drawings]
    cats = CATS.split(",")
    wrong = lambda c: next(x for x in cats if x != c)
    start(browser, server.url, "Ada")
    i0 = next_drawing(browser, 0, 4)
    time.sleep(0.3)  # the answer's ms should show this wait
    click(browser, truth[i0])
    i1 = next_drawing(browser, 1, 4)
    click(browser, wrong(truth[i1]))
    next_drawing(browser, 2, 4)
    # A reload is a stop and restart: the name comes back and so does the progress.
    browser.refresh()
    assert js(browser, "document.getElementById('name').value") == "Ada"
    start(browser, server.url)
    i2 = next_drawing(browser, 2, 4)
    press(browser, KEY_OF[truth[i2]])
    i3 = next_drawing(browser, 3, 4)
    press(browser, KEY_OF[wrong(truth[i3])])
    wait(browser, lambda: text(browser, "score"), "the accuracy")
    assert text(browser, "score") == "Accuracy: 50.0%"
    assert text(browser, "detail") == "2 of 4 correct (Ada)"
    assert text(browser, "progress") == "4/4"
    ids = [server.session.drawings[i].id for i in (i0, i1, i2, i3)]
  recs = [json.loads(line) for line in (tmp_path / "human.jsonl").read_text().splitlines()]
  assert [r["id"] for r in recs] == ids and len(set(ids)) == 4
  assert [r["answer"] == r["true"] for r in recs] == [True, False, True, False]
  assert all(r["name"] == "Ada" and r["seed"] == 0 for r in recs)
  assert all(type(r["ms"]) is int and r["ms"] >= 0 for r in recs)
  assert recs[0]["ms"] >= 250


def test_ten_real_categories_and_screenshot(browser, shared_data_dir, tmp_path):
  with serving(tmp_path, shared_data_dir, n=20, categories=",".join(LOCAL_TEN)) as server:
    start(browser, server.url, "Ada")
    for done in range(3):
      next_drawing(browser, done, 20)
      press(browser, "0")  # the tenth category's key
    next_drawing(browser, 3, 20)
    labels = js(browser, "[...document.querySelectorAll('#choices button')].map(b => b.textContent)")
    assert labels == [f"{k}{c}" for k, c in zip("1234567890", LOCAL_TEN)]
    shot = tmp_path / "human.png"
    browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size < 200_000
    if os.environ.get("QD_HUMAN_SCREENSHOT"):
      shutil.copy(shot, pathlib.Path(os.environ["QD_HUMAN_SCREENSHOT"]))
  recs = [json.loads(line) for line in (tmp_path / "human.jsonl").read_text().splitlines()]
  assert [r["answer"] for r in recs] == ["skull"] * 3
