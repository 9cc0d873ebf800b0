"""Badges and the door in a real browser, in Korean and English, with the keyboard alone: a person
finds their badge on their page, and its QR code reads back as their code; staff at the door check
people in by typing the code (with the page's script and without it), see a second scan refused
with its time, undo a check-in, keep scanning while the network is down (the scans are sent once
it is back), and check someone in by holding their badge up to the camera. Every page and state
goes through check_page (axe, reflow at 320 px, screenshots)."""

import pytest
import segno

from shared import badges
from tests.browser.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DOOR_EMAIL,
    check_page,
    focused,
    new_page,
    register,
    session_cookies,
    sign_in,
    tab_to,
    type_into,
    unique_email,
    wait_until,
)
from tests.platform import ORGANISER_TOKEN

DEFAULT_EXPO = "expo-2026"
DOOR = f"/organiser/events/{DEFAULT_EXPO}/check-in"
JSQR = badges.__file__.replace("shared/badges.py", "services/gateway/gateway/static/vendor/jsqr/dist/jsQR.js")


@pytest.fixture(scope="module")
def door_session(browser, platform) -> list[dict]:
    """Door staff, signed in once for the module."""
    return session_cookies(browser, platform, DOOR_EMAIL)


def visitor(platform, name: str = "김민지", **fields) -> dict:
    return register(
        platform,
        "attendees",
        {
            "name": name,
            "email": unique_email("door"),
            "attendee_type": "citizen",
            "language": "ko",
            "consents": {"privacy": True},
            **fields,
        },
    )


def checked_in(platform) -> int:
    answer = platform.call("GET", f"/api/v1/organiser/events/{DEFAULT_EXPO}/check-ins", ORGANISER_TOKEN)
    return answer.json()["checked_in"]


def scan_by_keyboard(page, code: str) -> None:
    type_into(page, "#code", code)
    page.keyboard.press("Enter")


def test_a_person_finds_their_badge_and_its_qr_code_reads_back(page, platform, language):
    person = visitor(platform, email=unique_email("badge"))
    address = platform.call("GET", f"/api/v1/attendees/{person['id']}", person["manage_token"]).json()[
        "email"
    ]
    sign_in(page, platform, address)
    page.goto(f"/my/{person['id']}")
    badge = page.locator("section.badge")
    assert badges.display(person["checkin_code"]) in badge.inner_text()
    check_page(page, "badge")
    # the QR code as drawn on the page, decoded in the page by the same reader the door uses
    page.evaluate(open(JSQR, encoding="utf-8").read() + "\n;undefined")
    read = page.evaluate(
        """async () => {
          const svg = document.querySelector("svg.badge-qr");
          const image = new Image();
          image.src = "data:image/svg+xml," + encodeURIComponent(new XMLSerializer().serializeToString(svg));
          await image.decode();
          const canvas = document.createElement("canvas");
          canvas.width = canvas.height = 600;
          const context = canvas.getContext("2d");
          context.fillStyle = "#fff";
          context.fillRect(0, 0, 600, 600);
          context.drawImage(image, 0, 0, 600, 600);
          const found = jsQR(context.getImageData(0, 0, 600, 600).data, 600, 600);
          return found && found.data;
        }"""
    )
    assert read == badges.display(person["checkin_code"])

    # a new badge, with the keyboard: the old code lets nobody in any longer
    tab_to(page, "section.badge button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    renewed = page.locator(".badge-code").inner_text()
    assert badges.normalise(renewed) not in (None, person["checkin_code"])
    refused = platform.call(
        "POST",
        f"/api/v1/organiser/events/{DEFAULT_EXPO}/check-ins",
        ORGANISER_TOKEN,
        json={"code": person["checkin_code"]},
    )
    assert refused.status_code == 404 and refused.json()["outcome"] == "unknown_badge"


def test_the_door_checks_people_in_with_the_keyboard_alone(page, platform, door_session, language):
    page.context.add_cookies(door_session)
    person = visitor(platform, "이서준", companions=1, carer_name="이보호")
    before = checked_in(platform)
    page.goto(DOOR)
    check_page(page, "door")

    scan_by_keyboard(page, badges.display(person["checkin_code"]).lower())
    page.wait_for_selector(".door-answer.is-welcome")
    assert focused(page, "element.id === 'code'"), "ready for the next badge"
    assert page.locator("[data-door-answer-region]").get_attribute("aria-live") == "polite", "read out"
    assert "이서준" in page.locator(".door-answer").inner_text()
    assert "이보호" in page.locator(".door-answer").inner_text()
    assert checked_in(platform) == before + 1
    check_page(page, "door-checked-in")

    scan_by_keyboard(page, person["checkin_code"])
    page.wait_for_selector(".door-answer.is-already")
    check_page(page, "door-already")

    scan_by_keyboard(page, "not-a-code")
    page.wait_for_selector(".door-answer.is-refused")
    check_page(page, "door-not-a-code")

    scan_by_keyboard(page, person["checkin_code"])
    page.wait_for_selector(".door-answer.is-already")
    tab_to(page, ".door-answer button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("[role=status][data-focus]").is_visible()
    assert checked_in(platform) == before


def test_the_door_works_without_javascript(browser, platform, door_session):
    context = browser.new_context(base_url=platform.url, locale="en-GB", java_script_enabled=False)
    context.add_cookies(door_session)
    page = context.new_page()
    try:
        person = visitor(platform, "Jordan Lee")
        page.goto(DOOR + "?lang=en")
        assert page.locator("[data-camera-start]").is_hidden(), "no camera without the script"
        scan_by_keyboard(page, badges.display(person["checkin_code"]))
        page.wait_for_load_state()
        assert "Checked in: Jordan Lee" in page.locator(".door-answer").inner_text()
    finally:
        context.close()


def test_scans_made_while_the_network_is_down_are_sent_when_it_is_back(
    page, platform, door_session, language
):
    page.context.add_cookies(door_session)
    people = [visitor(platform, f"오프라인 {number}") for number in range(2)]
    before = checked_in(platform)
    page.goto(DOOR)
    page.context.set_offline(True)
    for waiting, person in enumerate(people, start=1):
        scan_by_keyboard(page, person["checkin_code"])
        wait_until(
            page, f"document.querySelector('[data-door-queue-status]').textContent.endsWith(' {waiting}')"
        )
    assert page.locator("[data-door-queue]").is_visible()
    check_page(page, "door-offline")
    assert checked_in(platform) == before, "nothing reached the service while offline"

    page.context.set_offline(False)
    wait_until(page, "document.querySelectorAll('[data-door-queue-list] li').length === 2", timeout=30)
    assert checked_in(platform) == before + 2
    sent = page.locator("[data-door-queue-list]").inner_text()
    assert "오프라인 0" in sent and "오프라인 1" in sent
    assert page.evaluate("Object.keys(localStorage).every(key => localStorage.getItem(key) === '[]')")


def camera_video(path, code: str) -> None:
    """A Y4M video of a badge held in front of a camera, for chromium's fake camera."""
    width, height = 640, 480
    matrix = list(segno.make(badges.display(code), error="m", micro=False).matrix_iter(scale=10, border=4))
    top, left = (height - len(matrix)) // 2, (width - len(matrix[0])) // 2
    luma = bytearray([200] * (width * height))
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            luma[(top + y) * width + left + x] = 16 if dark else 235
    chroma = bytes([128] * (width * height // 4))
    with open(path, "wb") as video:
        video.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(10):
            video.write(b"FRAME\n" + bytes(luma) + chroma + chroma)


def test_holding_a_badge_up_to_the_camera_checks_its_holder_in(browser, platform, door_session, tmp_path):
    person = visitor(platform, "카메라 확인")
    video = tmp_path / "badge.y4m"
    camera_video(video, person["checkin_code"])
    camera = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]
    # a browser of its own, with a camera that films the badge
    with_camera = browser.browser_type.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + camera)
    try:
        page = new_page(with_camera, platform)
        page.context.grant_permissions(["camera"], origin=platform.url)
        page.context.add_cookies(door_session)
        page.goto(DOOR)
        tab_to(page, "[data-camera-start]")
        page.keyboard.press("Enter")
        page.wait_for_selector(".door-answer.is-welcome", timeout=20_000)
        assert "카메라 확인" in page.locator(".door-answer").inner_text()
        check_page(page, "door-camera")
        tab_to(page, "[data-camera-stop]")
        page.keyboard.press("Enter")
        assert page.locator("[data-camera]").is_hidden()
    finally:
        with_camera.close()
