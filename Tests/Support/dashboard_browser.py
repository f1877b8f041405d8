#!/usr/bin/env python3
"""Drives `reconcile serve`'s dashboard in a real headless Chromium (selenium + chromedriver).

Run by Tests/ReconcileCLITests/DashboardBrowserTests.swift against a lab whose daemon runs:
logs in, expects a card per modem, runs UNPLUG (a command line) and waits for that modem's card to
say Missing without a reload, clicks Rotate on ROTATE and waits for a new IP on its card, then
checks the page without JavaScript (a plain table) and on a phone-sized window. Prints one JSON
object with what it saw; exits 1 with the reason on the first expectation that fails.
"""
import argparse
import json
import shlex
import subprocess
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def browser(javascript=True, width=1280, height=900):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(flag)
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    return webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))


def fail(reason, driver=None):
    if driver is not None:
        reason += "\n--- page ---\n" + driver.find_element(By.TAG_NAME, "body").text[:3000]
    print(json.dumps({"ok": False, "reason": reason}))
    sys.exit(1)


def log_in(driver, url, token):
    """Logs in and waits until the dashboard has loaded: a click returns before the browser has
    navigated, and a look at once would still see the log-in form. The look is one script call,
    not selenium's staleness_of: asked about the old button mid-navigation, chromedriver answers
    "Node with given id does not belong to the document" rather than "stale element"."""
    driver.get(url)
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()

    def dashboard_loaded(d):
        try:
            return d.execute_script("return document.readyState === 'complete' && document.getElementById('modems-table') !== null")
        except WebDriverException:  # the old document is being replaced: not loaded yet
            return False
    WebDriverWait(driver, 15, poll_frequency=0.1).until(dashboard_loaded)


def card_text(driver, modem, selector):
    """Read in one script call: the page updates itself every 2 s, so a looked-up element may be gone by the next call."""
    return driver.execute_script(
        "const found = document.querySelector(arguments[0]); return found ? found.textContent : null;",
        f'article[data-modem="{modem}"] {selector}')


def wait_for(driver, what, condition, timeout):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: condition(d))
    except TimeoutException:
        fail(f"timed out after {timeout}s waiting for {what}", driver)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token-file", required=True)
    parser.add_argument("--modems", required=True, help="comma-separated names every page must list")
    parser.add_argument("--unplug", required=True, help="the modem that UNPLUG_COMMAND unplugs")
    parser.add_argument("--unplug-command", required=True, help="a command line (split like a shell's words)")
    parser.add_argument("--rotate", required=True)
    parser.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args()
    token = open(args.token_file).read().strip()
    modems = args.modems.split(",")
    seen = {"seconds": {}}
    started = time.monotonic()

    def mark(stage):
        seen["seconds"][stage] = round(time.monotonic() - started, 1)

    driver = browser(width=390, height=844)  # a phone
    try:
        log_in(driver, args.url, token)
        wait_for(driver, "a card per modem", lambda d: all(card_text(d, m, ".phase") == "Ready" for m in modems), args.timeout)
        mark("cards")
        seen["cards"] = [c.get_attribute("data-modem") for c in driver.find_elements(By.CSS_SELECTOR, "article.card")]
        if seen["cards"] != modems:
            fail(f"cards {seen['cards']}, expected {modems}", driver)
        seen["cardUsers"] = {m: card_text(driver, m, '[data-field="Users"]') for m in modems}
        if driver.find_element(By.ID, "modems-table").is_displayed():
            fail("the plain table is shown although JavaScript runs", driver)
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 0:
            fail(f"the page is {overflow}px wider than a phone's screen", driver)
        # The page stays open from here on: both changes must arrive without a reload.
        driver.execute_script("window.__notReloaded = true")

        unplugged = subprocess.run(shlex.split(args.unplug_command), capture_output=True, text=True)
        if unplugged.returncode != 0:
            fail(f"{args.unplug_command} failed: {unplugged.stderr}")
        wait_for(driver, f"{args.unplug} to turn Missing", lambda d: card_text(d, args.unplug, ".phase") == "Missing", args.timeout)
        mark("missing")
        seen["unpluggedReason"] = card_text(driver, args.unplug, ".reason")

        old_ip = card_text(driver, args.rotate, ".ip")
        seen["oldIP"] = old_ip
        driver.find_element(By.CSS_SELECTOR, f'article[data-modem="{args.rotate}"] button.rotate').click()
        wait_for(driver, f"a new IP on {args.rotate}'s card",
                 lambda d: card_text(d, args.rotate, ".ip") not in (None, "-", old_ip)
                 and card_text(d, args.rotate, ".phase") == "Ready", args.timeout)
        mark("rotated")
        seen["newIP"] = card_text(driver, args.rotate, ".ip")
        seen["notice"] = driver.find_element(By.ID, "notice").text
        if not driver.execute_script("return window.__notReloaded === true"):
            fail("the page was reloaded", driver)
    finally:
        driver.quit()

    plain = browser(javascript=False)
    try:
        log_in(plain, args.url, token)
        rows = {row.get_attribute("data-modem"): [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
                for row in plain.find_elements(By.CSS_SELECTOR, "#modems-table tbody tr")}
        if sorted(rows) != sorted(modems) or not plain.find_element(By.ID, "modems-table").is_displayed():
            fail(f"without JavaScript the table shows {sorted(rows)}", plain)
        seen["tablePhases"] = {name: cells[1] for name, cells in rows.items()}
        seen["tableUsers"] = {name: cells[10] for name, cells in rows.items()}
        mark("table")
    finally:
        plain.quit()

    print(json.dumps({"ok": True, **seen}))


if __name__ == "__main__":
    main()
