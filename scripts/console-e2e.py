#!/usr/bin/env python3
"""Drives the reviewers' console in headless Chromium: sign in, find a request in the queue, approve it.

Usage: console-e2e.py BASE_URL USERNAME PASSWORD REVIEW_ID
Exits 0 when the request shows as approved; prints what went wrong otherwise.
"""
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait


def main(base, username, password, review_id):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    wait = WebDriverWait(driver, 20)
    try:
        driver.get(base + "/console")
        wait.until(EC.presence_of_element_located((By.ID, "username")))  # redirected to sign in
        driver.find_element(By.ID, "username").send_keys(username)
        driver.find_element(By.ID, "password").send_keys(password)
        driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        link = wait.until(EC.presence_of_element_located((By.LINK_TEXT, review_id)))
        countdown = driver.find_element(By.CSS_SELECTOR, "time[data-countdown]").text
        assert countdown.startswith("in ") or countdown.startswith("overdue"), "the deadline counts down: " + countdown
        link.click()
        wait.until(EC.presence_of_element_located((By.ID, "reason")))
        # Keyboard use: every field is reachable and labelled.
        assert driver.find_element(By.CSS_SELECTOR, "label[for=reason]").text.startswith("Reason")
        driver.find_element(By.CSS_SELECTOR, "input[name=decision][value=approve]").click()
        driver.find_element(By.ID, "reason").send_keys("Within the change window; amounts match the ticket.")
        driver.find_element(By.CSS_SELECTOR, "form[action$='/decision'] button[type=submit]").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "state"), "approved"))
        print("approved through the console")
        return 0
    except Exception as error:  # report the page, not only the exception
        print("console test failed:", repr(error))
        print(driver.page_source[:3000])
        return 1
    finally:
        driver.quit()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
