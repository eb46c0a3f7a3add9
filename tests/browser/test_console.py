"""The task-force console in a real browser (Debian's Chromium, driven by Playwright) against the
real service: events published by agencies over HTTP, projected by the worker, read back by the
console's pages. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.browser.conftest import ConsoleService
from tests.factories import event, finding, uscc

pytestmark = pytest.mark.integration

expect.set_options(timeout=10_000)

BEIJING = timezone(timedelta(hours=8))
NAME_A = "冀中示范钢铁有限公司"
NAME_B = "冀南示范铸造有限公司"
NAME_C = "赣东示范铸造有限公司"


@dataclass(frozen=True)
class Seeded:
    a: str
    b: str
    c: str
    env_finding: str
    as_of_day: str  # a day on which only the first of A's findings had been recorded
    a_timeline: int  # events of A that its case file lists (the raw readings are not)


def _at(e: dict[str, Any], occurred: datetime, recorded: datetime | None = None) -> dict[str, Any]:
    e["occurred_at"] = occurred.isoformat()
    e["recorded_at"] = (recorded or occurred + timedelta(hours=2)).isoformat()
    return e


def _registered(firm: str, name: str, when: datetime) -> dict[str, Any]:
    payload = {
        "name": name,
        "legal_representative": "张建国",
        "registered_address": "河北省石家庄市长安区示范路1号",
        "business_scope": "钢铁冶炼、压延加工",
        "industry": "steel",
    }
    return _at(event("EnterpriseRegistered", "market", firm, payload), when)


def _finding(
    firm: str, stream: str, dimension: str, severity: str, code: str, when: datetime
) -> dict[str, Any]:
    e = finding(firm, stream, dimension, severity)
    e["payload"]["violation_code"] = code
    return _at(e, when)


def _events_of_a(firm: str, t0: datetime) -> list[dict[str, Any]]:
    day = timedelta(days=1)
    env = _finding(firm, "environment", "environmental_protection", "serious", "HB-2026-001", t0)
    miit = "miit"
    equipment = [
        _at(
            event(
                "EquipmentRegistered",
                miit,
                firm,
                {
                    "equipment_id": f"EAF-{n}",
                    "kind": "electric_arc_furnace",
                    "size": 70,
                    "size_unit": "t",
                    "product": "steel",
                    "annual_capacity_tonnes": 300_000,
                },
            ),
            t0 - 4 * day,
        )
        for n in (1, 2)
    ]
    events = [_registered(firm, NAME_A, t0 - 5 * day), *equipment]
    events += [
        _at(
            event(
                "CapacityReductionTargetSet",
                miit,
                firm,
                {
                    "target_id": "SJZ-2026-A",
                    "steel_tonnes": 600_000,
                    "deadline": (datetime.now(UTC) + 60 * day).isoformat(),
                    "basis": "压减钢铁产能工作方案",
                },
            ),
            t0 - 3 * day,
        ),
        _at(
            event(
                "TipOffReceived",
                "steel_association",
                firm,
                {
                    "tipoff_id": "JB-0417",
                    "channel": "举报平台",
                    "summary": "夜间开炉生产",
                    "dimension": "environmental_protection",
                },
            ),
            t0 - 2 * day,
        ),
        env,
        _at(
            event(
                "TipOffVerified",
                "steel_association",
                firm,
                {"tipoff_id": "JB-0417", "substantiated": True, "finding_ids": [env["event_id"]]},
            ),
            t0 + day,
        ),
        _finding(firm, "safety", "work_safety", "critical", "AJ-2026-002", t0 + 10 * day),
        _finding(firm, "quality", "product_quality", "serious", "ZJ-2026-003", t0 + 11 * day),
        _at(
            event(
                "PenaltyImposed",
                "environment",
                firm,
                {
                    "kind": "fine",
                    "amount_cny": 1_000_000,
                    "legal_basis": "《大气污染防治法》第九十九条",
                    "finding_ids": [env["event_id"]],
                },
            ),
            t0 + 12 * day,
        ),
        _at(
            event(
                "CaseOpened",
                "taskforce",
                firm,
                {
                    "case_id": "JC-2026-A",
                    "title": "联合调查",
                    "reason": "多部门严重违法线索",
                },
            ),
            t0 + 13 * day,
        ),
        _at(
            event(
                "EquipmentDismantled",
                miit,
                firm,
                {"equipment_id": "EAF-1", "verified_by": "化解过剩产能验收组"},
            ),
            t0 + 14 * day,
        ),
    ]
    return events


def _power_of_a(firm: str, start: datetime) -> list[dict[str, Any]]:
    """Two days of hourly readings, heavy at night, and the anomaly the grid reported."""
    readings = []
    for h in range(48):
        begin = start + timedelta(hours=h)
        night = (begin.astimezone(BEIJING).hour >= 22) or (begin.astimezone(BEIJING).hour < 6)
        kwh = 3_400.0 + 10 * (h % 5) if night else 300.0 + 5 * (h % 7)
        readings.append(
            _at(
                event(
                    "PowerReading",
                    "power",
                    firm,
                    {
                        "meter_id": "M-1",
                        "period_start": begin.isoformat(),
                        "period_end": (begin + timedelta(hours=1)).isoformat(),
                        "kwh": kwh,
                        "night_share": 1.0 if night else 0.0,
                    },
                ),
                begin + timedelta(hours=1),
                begin + timedelta(hours=1, minutes=5),
            )
        )
    anomaly = _at(
        event(
            "PowerAnomalyDetected",
            "power",
            firm,
            {
                "kind": "night_use",
                "window_start": start.isoformat(),
                "window_end": (start + timedelta(hours=48)).isoformat(),
                "observed": 3_420.0,
                "baseline": 310.0,
            },
        ),
        start + timedelta(hours=49),
    )
    return [*readings, anomaly]


@pytest.fixture(scope="module")
async def seeded(console_service: ConsoleService) -> Seeded:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    t0 = now - timedelta(days=30)
    a = uscc(51_001, region="130102")
    b = uscc(51_002, region="130104")
    c = uscc(51_003, region="360681")
    shaping = _events_of_a(a, t0)
    power = _power_of_a(a, t0 + timedelta(days=2))
    events = [
        *shaping,
        *power,
        _registered(b, NAME_B, t0),
        _finding(b, "land", "land_approval", "minor", "GT-2026-010", t0 + timedelta(days=3)),
        _registered(c, NAME_C, t0),
        _at(
            event(
                "IllegalSteelConfirmed",
                "quality",
                c,
                {
                    "furnace_type": "medium_frequency_induction",
                    "furnace_count": 2,
                    "capacity_tonnes": 50_000,
                    "description": "中频炉熔炼废钢生产钢坯",
                },
            ),
            t0 + timedelta(days=4),
        ),
    ]
    await console_service.publish(events)
    await console_service.until(
        f"/v1/cases/{a}", lambda body: len(body["findings"]) == 3 and body["tipoffs"]
    )
    listed = await console_service.until(
        "/v1/cases?status=BLACKLISTED",
        lambda body: {a, c} <= {x["uscc"] for x in body["cases"]},
    )
    assert {x["uscc"] for x in listed["cases"]} == {a, c}
    await console_service.until(f"/v1/cases/{b}", lambda body: len(body["findings"]) == 1)
    await console_service.until(f"/v1/cases/{a}", lambda body: bool(body["power_anomalies"]))
    case_a = await settled(console_service, a)
    env = next(e for e in shaping if e["event_type"] == "FindingRecorded")
    as_of = (t0 + timedelta(days=5)).astimezone(BEIJING).date().isoformat()
    return Seeded(a, b, c, env["event_id"], as_of, len(case_a["timeline"]))


async def settled(svc: ConsoleService, firm: str) -> dict[str, Any]:
    """The case file once the worker has nothing more for it (unchanged for a second): the
    worker may add events of its own (power anomalies, escalations) after the published ones."""
    last: dict[str, Any] = {}
    stable_since = 0.0
    loop = asyncio.get_running_loop()
    while True:
        body = await svc.until(f"/v1/cases/{firm}", lambda _: True)
        if body.get("event_count") != last.get("event_count"):
            last, stable_since = body, loop.time()
        elif loop.time() - stable_since >= 1.0:
            return last
        await asyncio.sleep(0.2)


@pytest.fixture
async def page(context: BrowserContext) -> AsyncIterator[Page]:
    """A page that fails the test on any script error."""
    p = await context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    yield p
    assert not errors, errors


async def signed_in(page: Page, svc: ConsoleService, fragment: str = "#/cases") -> Page:
    """A signed-in tab: the token is put where the sign-in page keeps it."""
    token = svc.tokens["taskforce"]
    await page.context.add_init_script(f"sessionStorage.setItem('jc.token', '{token}')")
    await page.goto(f"{svc.url}/console/{fragment}")
    return page


def case_rows(page: Page) -> Any:
    return page.locator("#case-table tbody tr")


# --- the files ----------------------------------------------------------------------------


async def test_console_files_are_served_from_the_package_and_nothing_else(
    console_service: ConsoleService,
) -> None:
    async with httpx.AsyncClient(base_url=console_service.url) as c:
        root = await c.get("/console")
        assert root.status_code == 308 and root.headers["location"].endswith("/console/")
        page = await c.get("/console/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert '<script type="module" src="app.js">' in page.text
        script = await c.get("/console/views/casefile.js")
        assert script.headers["content-type"].startswith("text/javascript")
        again = await c.get("/console/app.js", headers={"If-None-Match": script.headers["etag"]})
        assert again.status_code == 200  # another file, another tag
        same = await c.get(
            "/console/views/casefile.js", headers={"If-None-Match": script.headers["etag"]}
        )
        assert same.status_code == 304 and not same.content
        for path in ("/console/routes.py", "/console/%2e%2e/routes.py", "/console/missing.js"):
            r = await c.get(path)
            assert r.status_code == 404, path
        # The console is not part of the API's published contract.
        spec = (await c.get("/openapi.json")).json()
        assert not [p for p in spec["paths"] if p.startswith("/console")]


# --- sign-in ------------------------------------------------------------------------------


async def test_sign_in_checks_the_token(
    page: Page, console_service: ConsoleService, seeded: Seeded, screenshots: Path
) -> None:
    await page.goto(f"{console_service.url}/console")
    await expect(page).to_have_url(f"{console_service.url}/console/")
    await expect(page.locator("h1")).to_have_text("登录")
    await expect(page.locator("#nav")).to_be_hidden()
    await expect(page.get_by_role("button", name="退出登录")).to_be_hidden()

    token = page.get_by_label("访问令牌")
    submit = page.get_by_role("button", name="验证并登录")
    await token.fill("jc_000000000000_" + "x" * 43)
    await submit.click()
    await expect(page.locator("#signin-message")).to_contain_text("401")
    await page.screenshot(path=screenshots / "01-signin-rejected.png")

    await token.fill(console_service.tokens["bank:b1"])
    await submit.click()
    await expect(page.locator("#signin-message")).to_contain_text("403")
    assert await page.evaluate("sessionStorage.getItem('jc.token')") is None

    await token.fill(console_service.tokens["taskforce"])
    await submit.click()
    await expect(page.locator("h1")).to_have_text("案件列表")
    await expect(case_rows(page)).to_have_count(3)
    assert (
        await page.evaluate("sessionStorage.getItem('jc.token')")
        == (console_service.tokens["taskforce"])
    )

    await page.get_by_role("button", name="退出登录").click()
    await expect(page.locator("h1")).to_have_text("登录")
    await expect(page.locator("#signin-message")).to_contain_text("已退出登录")
    assert await page.evaluate("sessionStorage.getItem('jc.token')") is None


# --- case list ----------------------------------------------------------------------------


async def test_case_list_filters_sorts_and_pages(
    page: Page, console_service: ConsoleService, seeded: Seeded, screenshots: Path
) -> None:
    await signed_in(page, console_service)
    await expect(case_rows(page)).to_have_count(3)
    await expect(page.locator("#case-table")).to_contain_text(NAME_A)
    await page.screenshot(path=screenshots / "02-case-list.png", full_page=True)

    await page.get_by_label("地区代码（前缀）").fill("36")
    await page.get_by_role("button", name="查询").click()
    await expect(page).to_have_url(re.compile(r"region=36"))
    await expect(case_rows(page)).to_have_count(1)
    await expect(case_rows(page)).to_contain_text(NAME_C)

    await page.get_by_role("button", name="清除条件").click()
    await page.get_by_label("信用状态").select_option("BLACKLISTED")
    await page.get_by_role("button", name="查询").click()
    await expect(case_rows(page)).to_have_count(2)
    names = await case_rows(page).locator(".name-cell a").all_inner_texts()
    assert sorted(names) == sorted([NAME_A, NAME_C])

    await page.goto(f"{console_service.url}/console/#/cases?q=冀南")
    await expect(case_rows(page)).to_have_count(1)
    await expect(case_rows(page)).to_contain_text(NAME_B)

    await page.goto(f"{console_service.url}/console/#/cases")
    await expect(case_rows(page)).to_have_count(3)
    header = page.locator("#case-table th", has_text="事件数")
    await header.get_by_role("button").click()
    await header.get_by_role("button").click()
    await expect(header).to_have_attribute("aria-sort", "descending")
    counts = [int(x) for x in await case_rows(page).locator("td:nth-child(8)").all_inner_texts()]
    assert counts == sorted(counts, reverse=True) and counts[0] > counts[-1]
    await expect(page).to_have_url(re.compile(r"sort=-events$"))

    await page.goto(f"{console_service.url}/console/#/cases?limit=2")
    await expect(case_rows(page)).to_have_count(2)
    first_page = await case_rows(page).locator(".mono.small").all_inner_texts()
    await page.get_by_role("button", name="下一页").click()
    await expect(page.locator(".page-no")).to_have_text("第 2 页")
    await expect(case_rows(page)).to_have_count(1)
    second_page = await case_rows(page).locator(".mono.small").all_inner_texts()
    assert set(first_page).isdisjoint(second_page)
    assert sorted(first_page + second_page) == sorted([seeded.a, seeded.b, seeded.c])
    await expect(page.get_by_role("button", name="下一页")).to_be_disabled()
    await page.get_by_role("button", name="上一页").click()
    await expect(page.locator(".page-no")).to_have_text("第 1 页")
    assert await case_rows(page).locator(".mono.small").all_inner_texts() == first_page


# --- case file ----------------------------------------------------------------------------


async def test_case_file_shows_matrix_timeline_ledger_power_and_sources(
    page: Page, console_service: ConsoleService, seeded: Seeded, screenshots: Path
) -> None:
    await signed_in(page, console_service)
    # A click anywhere on the row opens the case, not only on the name.
    await case_rows(page).filter(has_text=NAME_A).locator("td").nth(1).click()
    await expect(page).to_have_url(re.compile(f"#/case/{seeded.a}$"))
    await expect(page.locator("h1")).to_have_text(NAME_A)

    head = page.locator(".case-head")
    await expect(head.locator(".badge-big")).to_have_text("严重失信")
    await expect(head.locator(".rules")).to_contain_text("R3")
    await expect(head.locator(".measures")).to_contain_text("严格审查")

    tiles = page.locator("#matrix > li")
    await expect(tiles).to_have_count(11)
    env = page.locator("#matrix > li[data-dimension='environmental_protection']")
    await expect(env).to_have_attribute("data-state", "open")
    await expect(env).to_have_attribute("data-severity", "serious")
    await expect(env).to_have_class(re.compile(r"\bsev-serious\b"))
    safety = page.locator("#matrix > li[data-dimension='work_safety']")
    await expect(safety).to_have_attribute("data-severity", "critical")
    await expect(page.locator("#matrix > li[data-dimension='tax_compliance']")).to_have_attribute(
        "data-state", "clear"
    )

    timeline = page.locator("#timeline > li")
    await expect(timeline).to_have_count(seeded.a_timeline)
    await expect(page.locator("#timeline")).to_contain_text("严重问题 · 环境保护 · HB-2026-001")
    shown = await timeline.locator(".tl-when time").evaluate_all(
        "els => els.map(e => Date.parse(e.getAttribute('datetime')))"
    )
    assert shown == sorted(shown, reverse=True), "the timeline lists the newest first"

    findings = page.locator("#findings-table tbody tr")
    await expect(findings).to_have_count(3)
    await expect(page.locator("#penalties-table")).to_contain_text("1,000,000")

    target = page.locator("#targets > li[data-target-id='SJZ-2026-A']")
    await expect(target).to_have_attribute("data-state", "pending")
    await expect(target.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "50")
    await expect(page.locator("#equipment-table")).to_contain_text("已拆除")
    await expect(page.locator("#tipoffs-table")).to_contain_text("已核实")

    chart = page.locator("#sec-power svg.chart")
    await expect(chart).to_have_attribute("aria-label", re.compile("48 条小时读数"))
    await expect(chart.locator("path.line")).to_have_attribute("d", re.compile(r"^M[\d.]+,"))
    await expect(chart.locator("rect.anomaly")).not_to_have_count(0)

    # Clicking a dimension filters the findings to it.
    await safety.locator(".tile-main").click()
    await expect(findings).to_have_count(1)
    await expect(findings).to_contain_text("AJ-2026-002")
    await safety.locator(".tile-main").click()
    await expect(findings).to_have_count(3)
    await page.screenshot(path=screenshots / "03-case-file.png", full_page=True)

    # Every fact leads to its source event: the drawer shows it highlighted, with its JSON.
    row = findings.filter(has_text="HB-2026-001")
    await row.locator("button.src").click()
    drawer = page.locator("#drawer")
    await expect(drawer).to_be_visible()
    source = drawer.locator(f"article#ev-{seeded.env_finding}")
    await expect(source).to_have_class(re.compile(r"\bhit\b"))
    await expect(source.locator("pre")).to_contain_text(f'"event_id": "{seeded.env_finding}"')
    await expect(source.locator("pre")).to_contain_text('"violation_code": "HB-2026-001"')
    await expect(drawer.locator("article")).to_have_count(seeded.a_timeline)
    await page.screenshot(path=screenshots / "04-source-drawer.png")
    await page.keyboard.press("Escape")
    await expect(drawer).to_be_hidden()


async def test_as_of_shows_the_file_as_known_at_the_end_of_a_day(
    page: Page, console_service: ConsoleService, seeded: Seeded
) -> None:
    await signed_in(page, console_service, f"#/case/{seeded.a}")
    await expect(page.locator("#findings-table tbody tr")).to_have_count(3)
    await page.get_by_label("截至日期（北京时间当日 24 时）").fill(seeded.as_of_day)
    await page.get_by_role("button", name="查看", exact=True).click()
    await expect(page).to_have_url(re.compile(f"as_of={seeded.as_of_day}"))
    await expect(page.locator(".banner")).to_contain_text(seeded.as_of_day)
    await expect(page.locator("#findings-table tbody tr")).to_have_count(1)
    await expect(page.locator("#findings-table")).to_contain_text("HB-2026-001")
    await expect(page.locator(".case-head .badge-big")).to_have_text("关注")
    # A past view does not poll.
    await expect(page.locator("#live-status")).to_have_count(0)

    await page.get_by_role("button", name="回到最新").click()
    await expect(page.locator("#findings-table tbody tr")).to_have_count(3)
    await expect(page.locator(".case-head .badge-big")).to_have_text("严重失信")


# --- language -----------------------------------------------------------------------------


async def test_language_switch_changes_labels_and_is_remembered(
    page: Page, console_service: ConsoleService, seeded: Seeded, screenshots: Path
) -> None:
    await signed_in(page, console_service)
    await expect(page.locator("h1")).to_have_text("案件列表")
    assert await page.evaluate("document.documentElement.lang") == "zh-CN"

    await page.get_by_role("button", name="Switch to English").click()
    await expect(page.locator("h1")).to_have_text("Cases")
    await expect(page.locator("#nav")).to_contain_text("Regions")
    await expect(page.locator("#case-table thead")).to_contain_text("Credit status")
    await expect(case_rows(page).filter(has_text=NAME_C)).to_contain_text("Blacklisted")
    assert await page.evaluate("document.documentElement.lang") == "en"

    await page.reload()
    await expect(page.locator("h1")).to_have_text("Cases")
    await page.goto(f"{console_service.url}/console/#/case/{seeded.a}")
    await expect(page.locator("#sec-matrix h2")).to_have_text("Check dimensions")
    await expect(page.locator("#timeline")).to_contain_text(
        "serious finding on Environmental protection (HB-2026-001)"
    )
    await page.screenshot(path=screenshots / "05-case-file-english.png", full_page=True)

    await page.get_by_role("button", name="切换到中文").click()
    await expect(page.locator("#sec-matrix h2")).to_have_text("核查维度")
    assert await page.evaluate("localStorage.getItem('jc.lang')") == "zh-CN"


# --- regions ------------------------------------------------------------------------------


async def test_region_page_drills_down_from_province_to_cases(
    page: Page, console_service: ConsoleService, seeded: Seeded, screenshots: Path
) -> None:
    await signed_in(page, console_service, "#/regions")
    rows = page.locator("#region-table tbody tr")
    await expect(rows).to_have_count(2)
    hebei = rows.filter(has_text="130000")
    await expect(hebei.locator("td").nth(2)).to_have_text("2")  # enterprises
    await expect(rows.filter(has_text="360000").locator("td").nth(2)).to_have_text("1")
    await expect(page.locator("#region-table tfoot td").first).to_have_text("3")

    await hebei.locator("td").first.click()
    await expect(page).to_have_url(re.compile(r"level=city&prefix=13$"))
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text("130100")
    await expect(page.locator(".crumbs li")).to_have_count(2)
    await page.screenshot(path=screenshots / "06-regions-city.png", full_page=True)

    await rows.first.locator("td").first.click()
    await expect(page).to_have_url(re.compile(r"level=county&prefix=1301$"))
    await expect(rows).to_have_count(2)
    codes = await rows.locator("td:first-child").all_inner_texts()
    assert codes == ["130102", "130104"]

    await rows.filter(has_text="130102").locator("td").first.click()
    await expect(page).to_have_url(re.compile(r"#/cases\?region=130102$"))
    await expect(case_rows(page)).to_have_count(1)
    await expect(case_rows(page)).to_contain_text(NAME_A)


# --- live ---------------------------------------------------------------------------------


async def test_an_open_case_file_updates_live_without_reloading(
    page: Page, console_service: ConsoleService, seeded: Seeded, screenshots: Path
) -> None:
    await signed_in(page, console_service, f"#/case/{seeded.a}")
    findings = page.locator("#findings-table tbody tr")
    await expect(findings).to_have_count(3)
    land = page.locator("#matrix > li[data-dimension='land_approval']")
    await expect(land).to_have_attribute("data-state", "clear")
    await page.evaluate("window.__samePage = true")

    now = datetime.now(UTC)
    new = _finding(
        seeded.a, "land", "land_approval", "critical", "GT-LIVE-07", now - timedelta(hours=1)
    )
    new["recorded_at"] = now.isoformat()
    new["event_id"] = str(uuid.uuid4())
    await console_service.publish([new])

    await expect(findings.filter(has_text="GT-LIVE-07")).to_have_count(1, timeout=20_000)
    await expect(findings).to_have_count(4)
    await expect(land).to_have_attribute("data-severity", "critical")
    await expect(page.locator("#live-updated")).to_contain_text("已更新")
    await expect(page.locator(f"#tl-{new['event_id']}")).to_have_class(re.compile(r"\bnew\b"))
    assert await page.evaluate("window.__samePage === true"), "the page was reloaded"
    await page.screenshot(path=screenshots / "07-live-update.png")
