"""Real-browser tests of the pages: Debian's chromium driven by Playwright, against the platform
started as ``make run`` starts it.

Every page a test reaches goes through ``check_page``: axe-core (WCAG 2.2 A and AA rules) must find
no violation, the page must not scroll sideways at 320 CSS px, and screenshots (375 and 1280 px
wide) are written to tests/screenshots/ for a reviewer to look at.
"""

import re
import uuid
from email.message import EmailMessage

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.conftest import ROOT, received_mail, wait_for
from tests.platform import SHORT_DIGEST_MINUTES, running_platform

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = ROOT / "services" / "gateway" / "assets" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "tests" / "screenshots"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
ORGANISER_EMAIL = "organiser@expo.example.org"
# staff checking people in at the door: organisers too, signing in on a device of their own
DOOR_EMAIL = "door@expo.example.org"


@pytest.fixture(scope="session")
def platform(tmp_path_factory):
    with running_platform(
        tmp_path_factory.mktemp("var"),
        ORGANISER_EMAILS=f"{ORGANISER_EMAIL},{DOOR_EMAIL}",
        # the organiser may download the names of people with accessibility needs
        ORGANISER_SENSITIVE_EMAILS=ORGANISER_EMAIL,
        SUGGESTION_DIGEST_MINUTES=SHORT_DIGEST_MINUTES,
    ) as running:
        yield running


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def new_page(browser: Browser, platform, language: str = "ko") -> Page:
    context = browser.new_context(
        base_url=platform.url,
        locale="ko-KR" if language == "ko" else "en-GB",
        viewport={"width": 1280, "height": 900},
    )
    context.set_default_timeout(15_000)
    return context.new_page()


@pytest.fixture(params=["ko", "en"])
def language(request) -> str:
    return request.param


@pytest.fixture
def page(browser, platform, language):
    opened = new_page(browser, platform, language)
    yield opened
    opened.context.close()


def check_page(page: Page, name: str) -> None:
    """axe finds nothing, the page reflows at 320 px, and screenshots are written."""
    # evaluated through the DevTools protocol: the pages' Content-Security-Policy (rightly) refuses
    # an injected script tag
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    results = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
    violations = [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        for violation in results["violations"]
    ]
    assert violations == [], f"axe on {name} ({page.url}):\n" + "\n".join(violations)
    language = page.evaluate("document.documentElement.lang")
    original = page.viewport_size
    SCREENSHOTS.mkdir(exist_ok=True)
    for width in (375, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{language}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 320, "height": 640})
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{name} scrolls sideways by {overflow} px at 320 px wide"
    page.set_viewport_size(original)


UNNAMED_CONTROL = re.compile(
    r"^\s*- (textbox|checkbox|radio|combobox|button|spinbutton|link)(?: \[[^\]]*\])?:?\s*$"
)


def assert_controls_named(page: Page, selector: str = "main form") -> None:
    """The accessibility tree of each form names every control it holds."""
    for form in page.locator(selector).all():
        snapshot = form.aria_snapshot()
        unnamed = [line for line in snapshot.splitlines() if UNNAMED_CONTROL.match(line)]
        assert not unnamed, f"controls without a name on {page.url}:\n" + "\n".join(unnamed)


def wait_until(page: Page, expression: str, timeout: float = 10) -> None:
    """Wait until a JavaScript expression is true in the page. (Playwright's wait_for_function
    polls with eval inside the page, which the pages' Content-Security-Policy refuses.)"""

    def holds() -> bool:
        try:
            return page.evaluate(expression)
        except PlaywrightError:  # the page is being replaced by the next one
            return False

    wait_for(holds, timeout, message=expression)


def tab_to(page: Page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element matching ``selector`` has the focus (keyboard only)."""
    target = page.locator(selector).first
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    pytest.fail(f"{selector} was not reached with Tab from {page.url}")


def type_into(page: Page, selector: str, text: str) -> None:
    """Tab to a field and type, as a keyboard user would."""
    tab_to(page, selector)
    page.keyboard.type(text)


def press_space_on(page: Page, selector: str) -> None:
    """Tab to a checkbox or radio and press Space."""
    tab_to(page, selector)
    page.keyboard.press("Space")


def focused(page: Page, script: str) -> bool:
    """Whether the focused element is as ``script`` says, once the page's script has moved it
    (it runs when the document is parsed, a moment after the elements are there)."""
    try:
        page.wait_for_function(
            # a function, not an expression: the pages' policy allows no eval
            f"() => {{ const element = document.activeElement; return {script}; }}",
            timeout=5000,
        )
    except PlaywrightTimeout:
        return False
    return True


def assert_error_summary_focused(page: Page, language: str) -> None:
    """The form came back with errors: the summary has the focus and the title says so."""
    page.wait_for_selector("[data-error-summary]")
    assert focused(page, "element.hasAttribute('data-error-summary')"), "focus is on the error summary"
    assert page.title().startswith("오류: " if language == "ko" else "Error: "), page.title()


def register(platform, collection: str, body: dict) -> dict:
    """A registration made through the API, for a page to show."""
    answer = platform.call("POST", f"/api/v1/{collection}", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def unique_email(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:10]}@example.org"


def mail_to(platform, address: str, subject_contains: str = "") -> list[EmailMessage]:
    """E-mails the platform sent to ``address``, oldest first."""
    return [
        message
        for message in received_mail(platform.var / "mail")
        if address in message["To"] and subject_contains in message["Subject"]
    ]


SIGN_IN_LINK = r"https?://\S+/sign-in/[A-Za-z0-9_\-]+"


def link_in(message: EmailMessage, pattern: str) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    found = re.search(pattern, body)
    assert found, f"no link matching {pattern!r} in:\n{body}"
    return found.group(0)


def sign_in(page: Page, platform, address: str) -> None:
    """Sign in with the keyboard: ask for a link, take it from the e-mail, press the button."""
    before = len(mail_to(platform, address))
    page.goto("/sign-in")
    type_into(page, "#email", address)
    page.keyboard.press("Enter")
    page.wait_for_selector("h1[data-focus]")

    def sign_in_mail() -> EmailMessage | None:
        # other e-mails (a suggestions digest, say) may arrive to the same address meanwhile
        for message in reversed(mail_to(platform, address)[before:]):
            if re.search(SIGN_IN_LINK, message.get_body(preferencelist=("plain",)).get_content()):
                return message
        return None

    link = link_in(wait_for(sign_in_mail, 30, message="the sign-in e-mail"), SIGN_IN_LINK)
    page.goto(link)
    tab_to(page, "main button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/sign-in/" not in page.url, f"signing in with {link} failed: {page.locator('h1').inner_text()}"


def session_cookies(browser: Browser, platform, address: str) -> list[dict]:
    """The session cookie of ``address`` signed in with the keyboard alone. An address gets at most
    three unexpired sign-in links: a module signs in once and shares it between its tests."""
    page = new_page(browser, platform)
    try:
        sign_in(page, platform, address)
        return [cookie for cookie in page.context.cookies() if cookie["name"] == "tcx_session"]
    finally:
        page.context.close()
