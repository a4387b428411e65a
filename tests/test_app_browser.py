"""The web app in a real browser: headless Chromium driven by Selenium.

The boxes are drawn with the mouse on the page's canvas; the boxes the page
downloads are compared with `Tracker.track` on the same frames. Skipped
when Chromium or chromedriver is missing (CI installs them: .ci/run).
"""

import base64
import concurrent.futures
import io
import json
import pathlib
import shutil
import subprocess
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

webdriver = pytest.importorskip("selenium.webdriver",
                                reason="selenium is not installed")
from PIL import Image  # noqa: E402 pylint: disable=g-import-not-at-top
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

from siamfc_jax import pretrained  # noqa: E402
from siamfc_jax import tracker as tracker_lib  # noqa: E402
from siamfc_jax.app import server  # noqa: E402
from siamfc_jax.data import video  # noqa: E402
from siamfc_jax.evaluation import metrics  # noqa: E402

CHROMIUM = next(filter(None, map(shutil.which, (
    "chromium", "chromium-browser", "google-chrome"))), None)
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="headless Chromium and chromedriver are not installed (apt-get "
    "install chromium chromium-driver; .ci/run does)")
SCREENSHOT = pathlib.Path(__file__).resolve().parents[1] / "docs" / "app.png"
BARCODE_ROWS = 24  # bottom rows of the camera clip: its frame index, 8 bits
BITS = 8


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
  url, stop = server.serve_in_background(
      0, workdir=str(tmp_path_factory.mktemp("sessions")))
  yield url
  stop()


def _driver(*arguments):
  options = webdriver.ChromeOptions()
  options.binary_location = CHROMIUM
  for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                   "--disable-dev-shm-usage", "--window-size=1280,860",
                   *arguments):
    options.add_argument(argument)
  return webdriver.Chrome(options=options, service=webdriver.ChromeService(
      executable_path=CHROMEDRIVER))


@pytest.fixture()
def browser():
  driver = _driver()
  yield driver
  driver.quit()


def _wait(driver, script, timeout=120, what=None):
  deadline = time.time() + timeout
  while time.time() < deadline:
    value = driver.execute_script(script)
    if value:
      return value
    time.sleep(0.1)
  message = driver.execute_script("return $('message').textContent")
  raise AssertionError(f"timed out waiting for {what or script}; the page "
                       f"says {message!r}")


def _open(driver, url):
  driver.get(url)
  return _wait(driver, "return window.app && app.sessionId", 30)


def _image_to_screen(driver, x, y):
  """Offsets from the canvas's centre (Selenium's origin) of image pixel
  (x, y): the canvas is drawn at the image's size, scaled by CSS."""
  canvas = driver.find_element(By.ID, "canvas")
  width, height, image_w, image_h = driver.execute_script(
      "const c = arguments[0], r = c.getBoundingClientRect();"
      "return [r.width, r.height, c.width, c.height];", canvas)
  return canvas, (round(x * width / image_w - width / 2),
                  round(y * height / image_h - height / 2))


def _drag(driver, start, end):
  """Drags the mouse on the canvas from image point `start` to `end`."""
  canvas, a = _image_to_screen(driver, *start)
  _, b = _image_to_screen(driver, *end)
  (ActionChains(driver).move_to_element_with_offset(canvas, *a)
   .click_and_hold().move_to_element_with_offset(canvas, *b)
   .release().perform())


def _draw_box(driver, box):
  x, y, w, h = box
  _drag(driver, (x, y), (x + w, y + h))


def _links(driver) -> dict:
  return {a.text: a.get_attribute("href")
          for a in driver.find_elements(By.CSS_SELECTOR, "a.download")}


def _get(url) -> bytes:
  with urllib.request.urlopen(url, timeout=60) as response:
    return response.read()


def _boxes(text: bytes) -> np.ndarray:
  return np.array([[float(v) for v in line.split(",")]
                   for line in text.decode().splitlines()])


def _track_and_wait(driver):
  driver.find_element(By.ID, "track").click()
  _wait(driver, "return app.tracking", 30, "tracking to start")
  _wait(driver, "return !app.tracking && app.files.length > 0 && "
        "document.querySelectorAll('a.download').length > 0", 180,
        "tracking to finish")


def _upload_and_track(driver, url, path, box):
  """Uploads `path`, draws `box` on its first frame, tracks; returns
  (session id, download links)."""
  sid = _open(driver, url)
  driver.find_element(By.ID, "upload").send_keys(str(path))
  _wait(driver, "return app.clip !== null && app.image !== null", 60,
        "the first frame")
  _draw_box(driver, box)
  assert driver.execute_script("return app.editor.boxes.length") == 1
  _track_and_wait(driver)
  return sid, _links(driver)


def _reference(path, box, backend, start=0):
  frames = list(video.read_video(path))[start:]
  tracker = tracker_lib.Tracker.pretrained(backend=backend)
  return tracker.track(frames, np.asarray(box, np.float64))[0]


def test_file_flow_boxes_equal_tracker_track_with_a_correction(
    browser, app_url, demo_video):
  path = demo_video(0, 30)
  gt = pretrained.demo_sequence().boxes[0]
  sid, links = _upload_and_track(browser, app_url, path, gt)
  assert all(f"/api/s/{sid}/" in href for href in links.values())
  settings = json.loads(_get(links["settings.json"]))
  box = settings["targets"][0]["first_box"]
  # The box drawn with the mouse is the target's, to a few pixels.
  assert metrics.iou(np.array([box]), gt[None])[0] > 0.85
  backend = settings["tracker"]["backend"]
  want = _reference(path, box, backend)
  got = _boxes(_get(links["bag_0_30.txt"]))
  np.testing.assert_allclose(got, want, atol=1e-3)

  # Correct and continue: at frame 15, drag target 0's bottom-right
  # corner, then track from there.
  browser.execute_script("const s = $('scrub'); s.value = 15;"
                         "s.dispatchEvent(new Event('input'));")
  _wait(browser, "return app.frame === 15 && app.editor.boxes.length > 0")
  x, y, w, h = browser.execute_script("return app.editor.boxes[0]")
  browser.execute_script("app.editor.selected = 0; draw();")
  _drag(browser, (x + w, y + h), (x + w + 14, y + h + 10))
  assert browser.find_element(By.ID, "track").text == "Track from here"
  _track_and_wait(browser)
  links = _links(browser)
  settings = json.loads(_get(links["settings.json"]))
  (correction,) = settings["targets"][0]["corrections"]
  assert correction["frame"] == 15
  fixed = correction["box"]
  assert fixed[2] > w + 5 and fixed[3] > h + 3
  got = _boxes(_get(links["bag_0_30.txt"]))
  np.testing.assert_allclose(got[:15], want[:15], atol=1e-3)
  np.testing.assert_allclose(got[15:], _reference(path, fixed, backend, 15),
                             atol=1e-3)
  assert _get(links["bag_0_30_corrections.txt"]).decode().startswith("15,")

  # The rendered video downloads and decodes.
  rendered = pathlib.Path(str(path) + ".tracked.mp4")
  rendered.write_bytes(_get(links["tracked.mp4"]))
  assert len(list(video.read_video(rendered))) == 30

  # The player: step back shows frame 28 with its boxes.
  browser.find_element(By.ID, "back").click()
  _wait(browser, "return app.frame === 28")
  SCREENSHOT.parent.mkdir(exist_ok=True)
  browser.save_screenshot(str(SCREENSHOT))
  assert SCREENSHOT.stat().st_size > 10000


def test_bad_upload_shows_one_message_and_the_page_goes_on(
    browser, app_url, tmp_path, demo_video):
  _open(browser, app_url)
  bad = tmp_path / "notes.mp4"
  bad.write_bytes(b"no video here" * 50)
  browser.find_element(By.ID, "upload").send_keys(str(bad))
  message = _wait(browser, "return $('message').className === '' && "
                  "$('message').textContent", 30)
  assert "notes.mp4" in message and "Traceback" not in message
  browser.find_element(By.ID, "upload").send_keys(str(demo_video(0, 30)))
  _wait(browser, "return app.clip !== null", 60)


def _camera_clip(folder: pathlib.Path, start: int, count: int
                 ) -> pathlib.Path:
  """A y4m of demo frames start.. with the frame index as a barcode in the
  bottom rows (Chromium's fake camera plays it in a loop)."""
  import imageio_ffmpeg  # pylint: disable=g-import-not-at-top
  seq = pretrained.demo_sequence()
  frames = []
  for i in range(start, start + count):
    frame = np.array(Image.open(seq.frames[i]).convert("RGB"))
    width = frame.shape[1]
    for bit in range(BITS):
      on = (i >> bit) & 1
      frame[-BARCODE_ROWS:, bit * width // BITS:(bit + 1) * width // BITS] = (
          255 * on)
    frames.append(frame)
  height, width = frames[0].shape[:2]
  path = folder / "camera.y4m"
  subprocess.run(
      [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f",
       "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", "30",
       "-i", "-", "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", str(path)],
      input=np.stack(frames).tobytes(), check=True)
  return path


def _frame_index(image: np.ndarray) -> int:
  """The barcode of a camera frame (`_camera_clip`)."""
  width = image.shape[1]
  rows = image[-BARCODE_ROWS + 6:-6].astype(np.float64).mean(axis=(0, 2))
  index = 0
  for bit in range(BITS):
    block = rows[bit * width // BITS + 10:(bit + 1) * width // BITS - 10]
    index |= int(block.mean() > 128) << bit
  return index


def _decode(data: bytes) -> np.ndarray:
  return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _png_of(driver, script) -> np.ndarray:
  data = driver.execute_script(f"return {script}.toDataURL('image/png')")
  return _decode(base64.b64decode(data.split(",")[1]))


def test_live_camera_boxes_follow_the_target(app_url, tmp_path):
  """Chromium's fake camera plays demo frames carrying their index; the box
  is drawn on the paused frame; the boxes of the frames tracked are checked
  against the ground truth of those frames, by that index."""
  clip = _camera_clip(tmp_path, 0, 196)
  gt = pretrained.demo_sequence().boxes
  driver = _driver("--use-fake-device-for-media-stream",
                   "--use-fake-ui-for-media-stream",
                   f"--use-file-for-fake-video-capture={clip}")
  try:
    sid = _open(driver, app_url)
    driver.find_element(By.ID, "mode-camera").click()
    driver.find_element(By.ID, "camera-start").click()
    _wait(driver, "return app.live && app.live.counter > 10", 30,
          "camera frames")
    # Pause near the start of the looping clip: the run before it loops
    # is what can be checked against the ground truth.
    deadline = time.time() + 30
    while _frame_index(_png_of(driver, "app.live.grab")) > 30:
      assert time.time() < deadline, "the camera clip does not advance"
    driver.find_element(By.ID, "live-pause").click()
    first = _frame_index(_png_of(driver, "app.live.grab"))
    _draw_box(driver, gt[first])
    driver.find_element(By.ID, "live-go").click()
    _wait(driver, "return app.live.tracked > 30", 60, "live boxes")
    time.sleep(1)
    fps = driver.find_element(By.ID, "live-fps").text
    latency = driver.find_element(By.ID, "live-latency").text
    assert float(fps) > 1 and latency.endswith(" ms"), (fps, latency)
    int(driver.find_element(By.ID, "live-dropped").text)
    records = json.loads(_get(f"{app_url}api/s/{sid}/live"))["frames"]
    indices = [_frame_index(_decode(_get(
        f"{app_url}api/s/{sid}/live/{r['index']}"))) for r in records]
  finally:
    driver.quit()
  assert indices[0] == first and records[0]["init"]
  # Up to where the looping camera clip starts again.
  stop = next((i for i in range(1, len(indices))
               if indices[i] < indices[i - 1]), len(indices))
  assert stop >= 8, indices
  boxes = np.array([r["boxes"][0] for r in records[:stop]])
  ious = metrics.iou(boxes, gt[indices[:stop]])
  assert np.median(ious) > 0.5, ious
  # The tab is closed: its session and its frames are gone.
  deadline = time.time() + 10
  while time.time() < deadline:
    try:
      _get(f"{app_url}api/s/{sid}/live")
    except urllib.error.HTTPError as e:
      assert e.code == 404
      break
    time.sleep(0.1)
  else:
    raise AssertionError("the closed tab's session is still there")


def test_two_sessions_at_once_see_only_their_own(app_url, demo_video):
  seq = pretrained.demo_sequence()
  jobs = [(demo_video(0, 30), seq.boxes[0]),
          (demo_video(60, 30), seq.boxes[60])]
  drivers = [_driver(), _driver()]
  try:
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
      results = list(pool.map(
          lambda d, job: _upload_and_track(d, app_url, *job), drivers, jobs))
    (sid_a, links_a), (sid_b, links_b) = results
    assert sid_a != sid_b
    assert "bag_0_30.txt" in links_a and "bag_0_30.txt" not in links_b
    assert "bag_60_30.txt" in links_b
    assert all(sid_b not in href for href in links_a.values())
    # B cannot fetch A's files through its own session.
    with pytest.raises(urllib.error.HTTPError) as error:
      _get(links_b["bag_60_30.txt"].replace("bag_60_30", "bag_0_30"))
    assert error.value.code == 404
    for driver, (path, _), links in zip(drivers, jobs,
                                        (links_a, links_b)):
      settings = json.loads(_get(links["settings.json"]))
      box = settings["targets"][0]["first_box"]
      got = _boxes(_get(links[f"{path.stem}.txt"]))
      want = _reference(path, box, settings["tracker"]["backend"])
      np.testing.assert_allclose(got, want, atol=1e-3)
      shown = driver.execute_script("return app.results[29][0]")
      np.testing.assert_allclose(shown, got[29], atol=1e-3)
  finally:
    for driver in drivers:
      driver.quit()
