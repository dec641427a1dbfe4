#!/usr/bin/python3
"""Drives `mlcube-remote ui` in a real headless Chromium, as a user would.

Given the address the dashboard printed (with its token), a running job that
prints "tick N" once a second, and a sweep whose runs write metrics (queued
behind the job), it checks that:
  - the jobs page lists the running job and links to its page;
  - the job page shows the task's lines as they are printed, and after its
    event stream is cut it resumes with no line lost or repeated;
  - cancelling the job from its page (after the confirmation) cancels it,
    and Re-run starts it again as a new job whose page follows its log;
  - the hosts page shows the host up;
  - the sweep's page draws one curve per run;
  - Pull outputs on a finished job's page brings its outputs into the cube.
It saves a screenshot of each page into --shots. Exit status 0 when every
check held; otherwise 1, with one line per failed check on stderr.
"""
import argparse
import os
import re
import sys
import tempfile
import time

from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from chromium import browser

TIMEOUT_S = 60


class Check:
    def __init__(self, driver, shots):
        self.driver = driver
        self.shots = shots
        self.failures = []

    def wait(self, condition, what):
        try:
            WebDriverWait(self.driver, TIMEOUT_S, poll_frequency=0.1).until(lambda d: condition())
            return True
        except TimeoutException:
            self.failures.append("timed out waiting until " + what)
            return False

    def shot(self, name):
        self.driver.save_screenshot(os.path.join(self.shots, "ui-" + name + ".png"))

    def log_text(self):
        return self.driver.execute_script("return document.getElementById('log')?.textContent || ''")


def ticks(text):
    return [int(n) for n in re.findall(r"^tick (\d+)$", text, re.MULTILINE)]


def jobs_page(check, host, job):
    row = f'#jobs-table tr[data-job="{job}"]'
    if not check.wait(lambda: check.driver.find_elements(By.CSS_SELECTOR, row + " .state.RUNNING"),
                      f"the jobs page lists job {job} as RUNNING"):
        return
    href = check.driver.find_element(By.CSS_SELECTOR, row + " a").get_attribute("href")
    if not href.endswith(f"#/job/{host}/{job}"):
        check.failures.append(f"job {job} links to {href}")
    check.shot("jobs")
    check.driver.find_element(By.CSS_SELECTOR, row + " a").click()


def job_page(check, job):
    if not check.wait(lambda: 3 in ticks(check.log_text()), f"job {job}'s page shows tick 3"):
        return
    before = max(ticks(check.log_text()))
    check.driver.execute_script("window.mlcubeCutLogStream()")
    if not check.wait(lambda: max(ticks(check.log_text()) or [0]) >= before + 3,
                      f"the log goes on past tick {before + 2} after its stream was cut"):
        return
    seen = ticks(check.log_text())
    if seen != list(range(1, max(seen) + 1)):
        check.failures.append(f"ticks lost or repeated across the cut: {seen}")
    check.wait(lambda: "RUNNING" in check.driver.find_element(By.ID, "timeline").text,
               "the state timeline shows RUNNING")
    check.shot("job")


def cancel_from_page(check, job):
    button = lambda: check.driver.find_element(By.ID, "cancel")
    facts = lambda: check.driver.find_element(By.ID, "job-facts").text
    if not check.wait(lambda: button().is_displayed() and ("RUNNING" in facts() or
                                                           "QUEUED" in facts()),
                      f"job {job}'s page offers Cancel"):
        return
    button().click()
    check.wait(lambda: check.driver.switch_to.alert, "the confirmation")
    check.driver.switch_to.alert.accept()
    check.wait(lambda: "CANCELLED" in check.driver.find_element(By.ID, "job-facts").text,
               f"job {job} shows CANCELLED after Cancel")


def rerun_from_page(check, job):
    button = lambda: check.driver.find_element(By.ID, "rerun")
    if not check.wait(lambda: button().is_displayed(), f"job {job}'s page offers Re-run"):
        return
    button().click()
    check.wait(lambda: check.driver.switch_to.alert, "the re-run confirmation")
    check.driver.switch_to.alert.accept()
    fresh = lambda: check.driver.execute_script("return location.hash").split("/")[-1]
    if not check.wait(lambda: fresh() not in ("", job), "the page of the re-run job opens"):
        return
    new_job = fresh()
    # It may wait for a slot (the sweep's runs hold them): queued or running,
    # it is the same task.
    check.wait(lambda: "count" in check.driver.find_element(By.ID, "job-facts").text,
               f"re-run job {new_job}'s page shows its task")
    cancel_from_page(check, new_job)


def hosts_page(check, base, host):
    check.driver.get(f"{base}#/hosts")
    check.wait(lambda: any("up" in row.text for row in check.driver.find_elements(
        By.CSS_SELECTOR, f'#hosts-table tr[data-host="{host}"]')), f"the hosts page shows {host} up")
    check.shot("hosts")


def sweep_page(check, base, sweep, runs):
    check.driver.get(f"{base}#/sweeps/{sweep}")
    script = ("const c = typeof Chart === 'undefined' ? null : Chart.getChart('curves');"
              f"return !!c && c.data.datasets.length === {runs} &&"
              " c.data.datasets.every(d => d.data.length >= 3);")
    check.wait(lambda: check.driver.execute_script(script),
               f"the sweep page draws {runs} curves of at least 3 points")
    check.shot("sweep")


def pull_from_page(check, base, host, job):
    check.driver.get(f"{base}#/job/{host}/{job}")
    button = lambda: check.driver.find_element(By.ID, "pull")
    if not check.wait(lambda: button().is_displayed(), f"finished job {job}'s page offers Pull"):
        return
    button().click()
    check.wait(lambda: "pulled" in check.driver.find_element(By.ID, "status").text,
               f"the page says job {job}'s outputs were pulled")


def main():
    parser = argparse.ArgumentParser()
    for name in ("url", "host", "job", "sweep", "pull-job", "shots"):
        parser.add_argument("--" + name, required=True)
    parser.add_argument("--runs", type=int, required=True)
    args = parser.parse_args()
    base = args.url.split("?")[0]
    with tempfile.TemporaryDirectory() as profile:
        driver = browser(profile)
        check = Check(driver, args.shots)
        try:
            driver.get(args.url)
            jobs_page(check, args.host, args.job)
            job_page(check, args.job)
            cancel_from_page(check, args.job)
            rerun_from_page(check, args.job)
            hosts_page(check, base, args.host)
            sweep_page(check, base, args.sweep, args.runs)
            pull_from_page(check, base, args.host, args.pull_job)
        finally:
            driver.quit()
    for failure in check.failures:
        print("dashboard_check: " + failure, file=sys.stderr)
    return 1 if check.failures else 0


if __name__ == "__main__":
    sys.exit(main())
