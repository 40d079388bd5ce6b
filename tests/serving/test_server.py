"""serve.py as a user meets it: the real command on loopback (LitServe's processes, its batching loop), answered
over HTTP; the page in headless Chromium. One server for the file; its model is a checkpoint this file saves."""

import base64
import csv
import io
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from PIL import Image

from benchmarks.serve_load import ServerProcess, load, multipart, predict_upload, request
from tests.helpers import calibrated_classifier, run_script

pytestmark = pytest.mark.slow

CLASSES = ["cat", "dog", "fox"]
# A batch fills within this wait: concurrent uploads share a forward pass.
BATCH_TIMEOUT = 0.5


@pytest.fixture(scope="module")
def photos(shared_tmp):
    root = shared_tmp("photos")
    rng = np.random.default_rng(0)
    paths = []
    for index in range(6):
        path = root / f"photo-{index}.png"
        Image.fromarray(rng.integers(0, 256, (80 + 7 * index, 95, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def server(shared_tmp):
    """`python serve.py ckpt_path=<a saved checkpoint>` with small limits, stopped by SIGTERM at the end."""
    model = calibrated_classifier("inception_v3", CLASSES, repeated_blocks=False)
    model.set_temperature(10.0)  # untrained and sure of itself: spread out, so the numbers compared mean something
    checkpoint = shared_tmp("model") / "best.ckpt"
    torch.save({"hyper_parameters": dict(model.hparams), "state_dict": model.state_dict()}, checkpoint)
    overrides = ["serve.max_batch_size=8", f"serve.batch_timeout={BATCH_TIMEOUT}", "serve.max_upload_mb=1",
                 "serve.max_megapixels=1", "serve.name=pets", "serve.top_k=2", "serve.accelerator=cpu"]
    process = ServerProcess(str(checkpoint), overrides, run_dir=shared_tmp("serve-run"))
    with process:
        yield process, checkpoint
    # Stopped as systemd or docker stop would: cleanly, every process gone, no traceback on the console.
    assert process.returncode == 0, process.output
    assert "Server stopped." in process.output
    assert "Traceback" not in process.output, process.output


@pytest.fixture(scope="module")
def predict_py(server, photos, shared_tmp):
    """predict.py's CSV rows for the photos, by file name."""
    _, checkpoint = server
    output = shared_tmp("predict") / "preds.csv"
    run_script("predict.py", f"ckpt_path={checkpoint}", f"input={photos[0].parent}", f"output={output}",
               f"hydra.run.dir={output.parent / 'run'}")
    with open(output) as handle:
        return {os.path.basename(row["path"]): row for row in csv.DictReader(handle)}


def expected_top(row, k=2):
    probabilities = {name: float(row[f"p_{name}"]) for name in CLASSES}
    return sorted(probabilities.items(), key=lambda item: -item[1])[:k]


def assert_matches_predict_py(answer, row):
    top = [(item["label"], item["probability"]) for item in answer["predictions"]]
    expected = expected_top(row)
    assert [label for label, _ in top] == [label for label, _ in expected]
    np.testing.assert_allclose([p for _, p in top], [p for _, p in expected], atol=1e-5, rtol=0)


def test_an_upload_gets_predict_pys_calibrated_probabilities_and_the_models_name(server, photos, predict_py):
    process, _ = server
    for photo in photos[:3]:
        status, answer = predict_upload(process.url, photo)
        assert status == 200, answer
        assert_matches_predict_py(answer, predict_py[photo.name])
        assert answer["model"]["name"] == "pets"
        assert answer["model"]["version"].startswith("sha256:")
    assert max(float(row["probability"]) for row in predict_py.values()) < 0.99  # not saturated: a real comparison


@pytest.mark.parametrize("encoding", ["json", "data-url", "raw"])
def test_json_base64_and_a_raw_image_body_get_the_same_answer(server, photos, predict_py, encoding):
    process, _ = server
    data = photos[3].read_bytes()
    encoded = base64.b64encode(data).decode()
    if encoding == "raw":
        body, headers = data, {"Content-Type": "image/png"}
    else:
        image = f"data:image/png;base64,{encoded}" if encoding == "data-url" else encoded
        body, headers = json.dumps({"image": image}).encode(), {"Content-Type": "application/json"}
    status, answer = request(process.url, "POST", "/predict", body, headers)
    assert status == 200, answer
    assert_matches_predict_py(json.loads(answer), predict_py[photos[3].name])


def test_cam_true_adds_the_class_activation_map_of_the_top_class_and_changes_no_number(server, photos, predict_py):
    process, _ = server
    body, headers = multipart(photos[1].read_bytes(), photos[1].name)
    status, answer = request(process.url, "POST", "/predict?cam=true", body, headers)
    assert status == 200, answer
    answer = json.loads(answer)
    assert_matches_predict_py(answer, predict_py[photos[1].name])
    prefix = "data:image/png;base64,"
    assert answer["cam"].startswith(prefix)
    overlay = Image.open(io.BytesIO(base64.b64decode(answer["cam"].removeprefix(prefix))))
    assert overlay.size == (75, 75)  # over the evaluation crop the model saw
    assert "cam" not in predict_upload(process.url, photos[1])[1]  # only when asked


def test_concurrent_uploads_are_served_in_fewer_forward_passes(server, photos, predict_py):
    process, _ = server
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda photo: predict_upload(process.url, photo), photos * 2))
    assert all(status == 200 for status, _ in answers)
    for (_, answer), photo in zip(answers, photos * 2, strict=True):
        assert_matches_predict_py(answer, predict_py[photo.name])  # batched or alone, the same numbers
    passes = sum(1 / answer["batch_size"] for _, answer in answers)  # each pass counted once over its uploads
    assert passes < len(answers) / 2, [answer["batch_size"] for _, answer in answers]


def png(width, height, colour=(200, 30, 30)):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


def bad_uploads(photo_bytes):
    """(what, body, headers, expected status, words of the message)."""
    bomb = png(1500, 1000)  # 1.5 megapixels in a few kB: over this server's 1
    assert len(bomb) < 50_000
    uploads = [
        ("not an image", *multipart(b"just some text, no pixels", "notes.txt"), 415, "Not an image"),
        ("truncated", *multipart(photo_bytes[: len(photo_bytes) // 2], "cut.png"), 400, "truncated"),
        ("decompression bomb", *multipart(bomb, "bomb.png"), 413, "1500 x 1000 pixels"),
        ("over the size limit", *multipart(os.urandom(1_200_000), "big.jpg"), 413, "serve.max_upload_mb"),
        ("wrong content type", b"hello", {"Content-Type": "text/plain"}, 415, "text/plain is not accepted"),
        ("empty body", b"", {"Content-Type": "application/json"}, 400, "no body"),
        ("empty file", *multipart(b"", "empty.png"), 400, "empty"),
        ("form without image field", *multipart(photo_bytes, "x.png", field="photo"), 400, "field `image`"),
        ("JSON without image", b'{"picture": "x"}', {"Content-Type": "application/json"}, 400, '"image"'),
        ("bad base64", b'{"image": "%%%"}', {"Content-Type": "application/json"}, 400, "base64"),
        ("not JSON", b"{oops", {"Content-Type": "application/json"}, 400, "not valid JSON"),
    ]
    return uploads


def test_each_bad_upload_gets_its_4xx_and_the_uploads_batched_with_it_still_succeed(server, photos, predict_py):
    process, _ = server
    uploads = bad_uploads(photos[0].read_bytes())
    good = [(photo, *multipart(photo.read_bytes(), photo.name)) for photo in photos[:4]]
    jobs = [(None, body, headers) for _, body, headers, _, _ in uploads]
    jobs += [(photo, body, headers) for photo, body, headers in good]
    order = np.random.default_rng(0).permutation(len(jobs))  # bad and good interleaved, sent together
    with ThreadPoolExecutor(len(jobs)) as pool:
        results = dict(zip(order, pool.map(lambda i: request(process.url, "POST", "/predict", *jobs[i][1:]), order),
                           strict=True))
    for index, (what, _, _, status, words) in enumerate(uploads):
        got, body = results[index]
        assert got == status, (what, body)
        answer = json.loads(body)
        assert words in answer["error"], (what, answer)
    shared = []
    for index, (photo, _, _) in enumerate(good, start=len(uploads)):
        got, body = results[index]
        assert got == 200, body
        answer = json.loads(body)
        assert_matches_predict_py(answer, predict_py[photo.name])
        shared.append(answer["batch_size"])
    assert max(shared) > 1  # some good uploads were batched (with each other, beside the rejected ones)
    # And the server still serves.
    assert predict_upload(process.url, photos[5])[0] == 200


def test_health_the_models_description_and_the_page_are_served(server):
    process, _ = server
    assert request(process.url, "GET", "/health") == (200, b"ok")
    status, body = request(process.url, "GET", "/model")
    description = json.loads(body)
    assert status == 200
    assert description["class_names"] == CLASSES
    assert description["name"] == "pets"
    status, page = request(process.url, "GET", "/")
    assert status == 200
    assert b'<script src="/page/page.js">' in page
    assert b"http" not in page.replace(b"http-equiv", b"")  # no CDN: everything from this server
    assert request(process.url, "GET", "/page/page.js")[0] == 200


def test_the_load_test_sends_its_requests_and_times_each(server, photos):
    process, _ = server
    level = load(process.url, photos, concurrency=4, requests=12, time_limit=60)
    assert level.failures == 0
    assert len(level.latencies) == 12
    assert 0 < level.percentile(50) <= level.percentile(99)
    assert level.images_per_s > 0


def chromium_driver():
    """Headless Debian Chromium through chromedriver; skipped only outside CI where they are not installed
    (.ci/run installs them)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    driver_path = shutil.which("chromedriver")
    browser_path = shutil.which("chromium")
    if driver_path is None or browser_path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium and chromium-driver are not installed: .ci/run installs them with apt-get.")
        pytest.skip("the page's browser test needs Debian's chromium and chromium-driver (apt-get install)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser_path
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=900,900"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver_path), options=options)


def test_the_page_in_chromium_uploads_a_photo_and_shows_the_predicted_class(server, photos, predict_py, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    process, _ = server
    driver = chromium_driver()
    try:
        driver.get(f"http://{process.url}/")
        WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "model-name").text == "pets")
        assert "cat, dog, fox" in driver.find_element(By.ID, "model-details").text
        driver.find_element(By.ID, "file").send_keys(str(photos[2]))
        WebDriverWait(driver, 60).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-predicted"))
        predicted = driver.find_element(By.TAG_NAME, "body").get_attribute("data-predicted")
        expected = expected_top(predict_py[photos[2].name])
        assert predicted == expected[0][0]
        rows = driver.find_elements(By.CSS_SELECTOR, "#results li")
        assert [row.get_attribute("data-label") for row in rows] == [label for label, _ in expected]
        assert rows[0].find_element(By.CLASS_NAME, "value").text == f"{expected[0][1]:.3f}"
        assert not driver.find_element(By.ID, "cam-map").is_displayed()
        # With the box ticked, another photo (the same file again would not change the input): its map appears.
        driver.find_element(By.ID, "cam").click()
        driver.find_element(By.ID, "file").send_keys(str(photos[3]))
        WebDriverWait(driver, 60).until(lambda d: d.find_element(By.ID, "cam-map").is_displayed())
        assert driver.find_element(By.ID, "cam-map").get_attribute("src").startswith("data:image/png;base64,")
        assert driver.get_screenshot_as_file(str(tmp_path / "page.png"))
        driver.find_element(By.ID, "cam").click()  # off again
        # A file that is no image: the page says the server's reason, in its error style.
        (tmp_path / "notes.png").write_bytes(b"not really a png")
        driver.find_element(By.ID, "file").send_keys(str(tmp_path / "notes.png"))
        WebDriverWait(driver, 30).until(lambda d: "error" in d.find_element(By.ID, "status").get_attribute("class"))
        assert "Not an image" in driver.find_element(By.ID, "status").text
    finally:
        driver.quit()
