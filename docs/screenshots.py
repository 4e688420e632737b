"""Take the page's screenshots in docs/: the empty form, a classification, the partners.

Starts ``amif-match serve`` on a free loopback port, opens the page in headless Chromium
(Debian's ``chromium`` and ``chromium-driver`` packages) with Selenium, classifies the demo's
sample proposal and saves one PNG per view::

    .venv/bin/python docs/screenshots.py [--lang en]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from amif_match.interfaces.cli.demo import SAMPLE_PROPOSAL

DOCS = Path(__file__).resolve().parent
WIDTH = 1366  # a common laptop screen


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "AMIF_MATCH_PROGRESS": "0"}
    command = [sys.executable, "-m", "amif_match", "serve", "--port", str(port)]
    proc = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return proc
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit("the server did not start")


def chrome() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"):
        options.add_argument(arg)
    options.add_argument(f"--window-size={WIDTH},900")
    service = webdriver.ChromeService(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(options=options, service=service)


def shoot(driver: webdriver.Chrome, selector: str, name: str) -> None:
    element = driver.find_element(By.CSS_SELECTOR, selector)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(WIDTH, max(900, height + 100))
    element.screenshot(str(DOCS / name))
    driver.set_window_size(WIDTH, 900)
    print(f"docs/{name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lang", default="en", choices=("fi", "sv", "en"))
    args = parser.parse_args()
    port = free_port()
    server = start_server(port)
    driver = chrome()
    try:
        driver.get(f"http://127.0.0.1:{port}/?lang={args.lang}")
        wait = WebDriverWait(driver, 120, poll_frequency=0.2)
        wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
        driver.save_screenshot(str(DOCS / "page-form.png"))
        print("docs/page-form.png")
        text = driver.find_element(By.ID, "text")
        driver.execute_script("arguments[0].value = arguments[1]", text, SAMPLE_PROPOSAL)
        driver.find_element(By.ID, "classify").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#partners > li"))
        time.sleep(0.5)
        shoot(driver, "#results > section:first-child", "page-results.png")
        shoot(driver, "#results > section:nth-child(2)", "page-partners.png")
    finally:
        driver.quit()
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
