"""Debian's headless Chromium through chromedriver, as the dashboard's browser
test (dashboard_check.py) and benchmark (tools/bench/ui_bench.sh) start it."""
from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def browser(profile, page_load_strategy="normal"):
    """A new headless Chromium with its own profile directory `profile`."""
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    options.page_load_strategy = page_load_strategy
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,950", "--user-data-dir=" + profile):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
