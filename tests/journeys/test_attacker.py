"""An attacker's day on the real demo (issue 17): a unit's login, a stolen cookie, the public
pages, and a process on the same machine as the SIP edge.

Each step is an attack that once worked against `make demo`; here it must fail the way
docs/security.md says, on the processes the demo starts (its Kamailio, its web app, its
config), not on an app built from fixtures.
"""

import re
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from playwright.sync_api import expect

from tests.journeys.conftest import PASSWORD
from tests.journeys.conftest import Journey

SECURITY = Path(__file__).resolve().parents[1] / "security"
PHONE = "13912345678"
NAME = "欧阳建国"


def _status(url: str, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 - loopback
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _free_udp() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sipp(journey: Journey, scenario: str, *extra: str) -> "subprocess.CompletedProcess[str]":
    port = journey.demo.env["HOTLINE_TELEPHONY__SIP_PORT"]
    argv = [
        "sipp", "-sf", str(SECURITY / scenario), f"127.0.0.1:{port}", "-s", "s01",
        "-m", "1", "-i", "127.0.0.1", "-p", str(_free_udp()),
        "-nostdin", "-timeout", "10s", "-timeout_error", *extra,
    ]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, cwd=journey.tmp)


def test_a_unit_cannot_learn_a_confidential_callers_identity(journey: Journey) -> None:
    # The hotline takes a confidential call whose text names the caller, for 住建局.
    operator = journey.sign_in("operator1")
    units = journey.get(operator, "/api/units").json()["items"]
    zjj = next(u["id"] for u in units if u["name"] == "住房和城乡建设局")
    created = journey.post(
        operator,
        "/api/tickets",
        {
            "request_type": "complaint",
            "title": f"{NAME}反映小区电梯停运",
            "content": f"来电人{NAME}（电话{PHONE}，身份证号330106199001011234）反映电梯停运三天",
            "caller_phone": PHONE,
            "citizen_name": NAME,
            "confidential": True,
        },
    )
    assert created.status == 201, created.text()
    ticket = created.json()
    dispatched = journey.post(
        operator, f"/api/tickets/{ticket['id']}/actions/dispatch", {"lead_unit_id": zjj}
    )
    assert dispatched.ok, dispatched.text()

    liaison = journey.sign_in("liaison-zjj")
    liaison.goto(f"{journey.url}/tickets/{ticket['id']}")
    expect(liaison.locator("#live-region")).to_contain_text("小区电梯停运")
    journey.seen(liaison, "attacker-unit-reads-confidential")
    html = liaison.content()
    assert PHONE not in html and PHONE[-4:] not in html and "欧阳" not in html
    assert "330106199001011234" not in html

    # Guessing the number through the list, its export or the search: refused, not slow.
    for path in (
        f"/api/tickets?caller_phone={PHONE}",
        f"/api/reports/tickets.xlsx?caller_phone={PHONE}",
        f"/api/tickets?q={PHONE}",
        "/api/tickets?q=欧阳",
    ):
        resp = liaison.request.get(f"{journey.url}{path}")
        assert resp.status == 403, (path, resp.status)
        assert resp.json()["message"]  # said in Chinese, with the error code
    # What is left to a unit: the ticket number.
    found = liaison.request.get(f"{journey.url}/api/tickets", params={"q": ticket["number"]})
    assert [t["id"] for t in found.json()["items"]] == [ticket["id"]]
    journey.assert_clean()


def test_a_stolen_cookie_dies_with_the_sign_out(journey: Journey) -> None:
    victim = journey.sign_in("operator2")
    cookies = victim.context.cookies()
    thief = journey.browser_for("thief")
    thief.context.add_cookies(cookies)
    assert thief.request.get(f"{journey.url}/api/me").status == 200  # the copy works...
    victim.get_by_role("button", name="退出").click()
    expect(victim).to_have_url(re.compile(r"/login"))
    assert thief.request.get(f"{journey.url}/api/me").status == 401  # ...until sign-out
    thief.goto(f"{journey.url}/console")
    expect(thief).to_have_url(re.compile(r"/login"))
    journey.assert_clean()


def test_sign_in_resists_guessing_and_foreign_redirects(journey: Journey) -> None:
    # A redirect that once left for another site after signing in.
    page = journey.browser_for("visitor")
    page.goto(f"{journey.url}/login?next=/%09/evil.example/login")
    page.get_by_label("用户名").fill("lead1")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda u: "/login" not in u)
    assert page.url.startswith(journey.url), page.url

    # Guessing a password: locked after five tries, said in Chinese, the right one refused too.
    guesser = journey.browser_for("guesser")
    for refused in (401, 429):  # wrong password, then locked: the answers this attack wants
        journey.watcher(guesser).expect("/login", refused)
    guesser.goto(f"{journey.url}/login")
    for attempt in range(6):
        guesser.get_by_label("用户名").fill("supervisor1")
        guesser.get_by_label("密码").fill(f"guess-{attempt}")
        guesser.get_by_role("button", name="登录").click()
        expect(guesser.get_by_role("alert")).to_be_visible()
    expect(guesser.get_by_role("alert")).to_contain_text("密码错误次数过多")
    journey.seen(guesser, "attacker-sign-in-locked")
    guesser.get_by_label("用户名").fill("supervisor1")
    guesser.get_by_label("密码").fill(PASSWORD)
    guesser.get_by_role("button", name="登录").click()
    expect(guesser.get_by_role("alert")).to_contain_text("密码错误次数过多")

    # The admin unlocks supervisor1 (audited), who signs in again.
    admin = journey.sign_in("admin")
    row = admin.locator("#users tbody tr", has_text="supervisor1")
    expect(row).to_contain_text("已锁定")
    row.get_by_role("button", name="解锁").click()
    expect(admin.locator("#users tbody tr", has_text="supervisor1")).not_to_contain_text("已锁定")
    journey.sign_in("supervisor1")

    # Admin pages cannot be framed, and no foreign script runs on them.
    headers = admin.request.get(f"{journey.url}/admin/users").headers
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    journey.assert_clean()


def test_the_sip_edge_and_the_acd_want_credentials(journey: Journey) -> None:
    # A process on the machine registers as seat s01 without a password, then with a guess.
    assert _sipp(journey, "sip_register_no_auth.xml").returncode == 0
    wrong = _sipp(journey, "sip_register_wrong_password.xml", "-au", "s01", "-ap", "guess1234")
    assert wrong.returncode == 0, wrong.stdout[-2000:]
    # It asks the ACD for the next call, or for a seat's HA1, without the instance's secret.
    acd = journey.demo.env["HOTLINE_TELEPHONY__ACD_URL"]
    assert _status(f"{acd}/route?call_id=x&from={PHONE}") == 403
    assert _status(f"{acd}/sip_ha1?user=s01") == 403
    assert _status(f"{acd}/sip_ha1?user=s01", {"X-Hotline-Acd-Secret": "guess"}) == 403
