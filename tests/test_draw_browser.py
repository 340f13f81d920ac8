"""The draw page in a real headless Chromium: strokes drawn with the pointer, guesses after each.

Uses test_human_browser's Chromium fixture (skipped visibly outside CI when Chromium is absent).
QD_DRAW_WORKDIR=DIR serves that workdir's best kept run instead of an untrained one, and
QD_DRAW_SCREENSHOT=docs/draw.png saves the screenshot there (README's picture).
"""

import math
import os
import pathlib
import shutil

from draw_fixtures import CATS, kept_workdir, serving
from test_human_browser import browser, js, wait  # noqa: F401 (the fixture)


def _stroke(browser, points):
  from selenium.webdriver.common.action_chains import ActionChains
  from selenium.webdriver.common.by import By
  pad = browser.find_element(By.ID, "pad")
  actions = ActionChains(browser, duration=10)
  x0, y0 = points[0]
  actions.move_to_element_with_offset(pad, x0 - 200, y0 - 200).click_and_hold()
  for (xa, ya), (xb, yb) in zip(points, points[1:]):
    actions.move_by_offset(xb - xa, yb - ya)
  actions.release().perform()


def _guesses(browser):
  return js(browser, "[...document.querySelectorAll('#guesses li')].map(li => [li.dataset.category, +li.dataset.p])")


def _circle(cx, cy, r, n=24):
  return [(round(cx + r * math.cos(2 * math.pi * i / n)), round(cy + r * math.sin(2 * math.pi * i / n)))
          for i in range(n + 1)]


def test_drawing_on_the_canvas_shows_three_guesses_after_each_stroke(browser, tmp_path):
  workdir = pathlib.Path(os.environ.get("QD_DRAW_WORKDIR") or kept_workdir(tmp_path / "w"))
  with serving(workdir) as server:
    browser.get(server.url)
    wait(browser, lambda: "Draw one of" in js(browser, "document.getElementById('sub').textContent"), "the model")
    categories = server.guesser.categories
    # an eye: the lids, then the iris
    _stroke(browser, [(60, 200), (120, 140), (200, 120), (280, 140), (340, 200)])
    wait(browser, lambda: len(_guesses(browser)) == 3, "guesses after stroke 1")
    first = _guesses(browser)
    _stroke(browser, [(60, 200), (120, 260), (200, 280), (280, 260), (340, 200)])
    wait(browser, lambda: js(browser, "document.getElementById('strokes').textContent") == "2 strokes", "stroke 2")
    _stroke(browser, _circle(200, 200, 45))
    wait(browser, lambda: js(browser, "document.getElementById('strokes').textContent") == "3 strokes"
         and _guesses(browser) != first, "guesses after stroke 3")
    shot = tmp_path / "draw.png"
    browser.save_screenshot(str(shot))
    last = _guesses(browser)
    assert len(last) == 3 and all(c in categories for c, _ in last) and len({c for c, _ in last}) == 3
    assert [p for _, p in last] == sorted((p for _, p in last), reverse=True) and 0 < sum(p for _, p in last) <= 1.0001
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if not os.environ.get("QD_DRAW_WORKDIR"):
      assert categories == CATS
    if os.environ.get("QD_DRAW_SCREENSHOT"):
      shutil.copy(shot, pathlib.Path(os.environ["QD_DRAW_SCREENSHOT"]))
  # Clear empties the canvas and the guesses
  assert js(browser, "document.getElementById('clear').click() || document.querySelectorAll('#guesses li').length") == 0
