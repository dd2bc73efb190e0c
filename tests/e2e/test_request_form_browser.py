"""The request form in real headless Chromium (Debian's package, driven by Playwright): file an erasure,
read the code from the outbox, enter it and see the request complete."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from local.inspect import holdings
from tests.e2e import intake_support as support
from tests.e2e.intake_support import emails_for, other_code, read_code

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
# Browser downloads are impossible here: Playwright drives the system Chromium.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def intake(local_cloud):
    with support.serve_api(local_cloud) as served:
        yield served


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists() and not shutil.which("chromium"):
        pytest.fail("Chromium is missing: apt-get install chromium (see .ci/run)")
    from playwright.sync_api import expect, sync_playwright  # imported here: only this module needs it

    # expect() waits 5 s by default; a filing that starts a workflow on a loaded local cloud can take longer
    # (CI saw an empty request id after 5 s). The pages' own timeout is 30 s: the assertions get the same.
    expect.set_options(timeout=30_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def test_a_requester_erases_their_data_through_the_form(page, intake, local_cloud, fresh_subject):
    from playwright.sync_api import expect

    erin = fresh_subject("erin")
    page.goto(intake.url + "/")

    # Submitting an empty form shows errors beside the fields, summarised at the top, without a request.
    page.get_by_role("button", name="Send request").click()
    expect(page.locator("#type-error")).to_have_text("Choose what you would like us to do")
    expect(page.locator("#email-error")).to_have_text("Enter your email address")
    expect(page.get_by_label("Your email address")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#error-summary")).to_be_focused()

    # Keyboard only: the labels name every control.
    page.get_by_label("Erase my data").check()
    page.get_by_label("Your email address").fill(erin["email"])
    page.get_by_label("Your email address").press("Enter")

    expect(page.locator("#verify-request-id")).to_have_text(re.compile(r"^req-"))
    expect(page.locator("#step-verify-heading")).to_be_focused()
    expect(page.locator("#step-request")).to_be_hidden()
    request_id = page.locator("#verify-request-id").inner_text()
    code = read_code(intake.outbox, request_id)

    page.get_by_label("Verification code").fill(other_code(code))
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#code-error")).to_contain_text("4 tries left")
    expect(page.get_by_label("Verification code")).to_have_attribute("aria-invalid", "true")

    page.get_by_label("Verification code").fill(code)
    page.get_by_label("Verification code").press("Enter")

    expect(page.locator("#status-value")).to_have_attribute("data-status", "completed", timeout=120_000)
    expect(page.locator("#status-value")).to_have_text("Completed")
    expect(page.locator("#status-request-id")).to_have_text(request_id)
    assert all(c["personal"] == 0 for c in holdings(local_cloud.datamap, local_cloud.clients, erin).values())


def test_a_requester_cancels_an_erasure_from_the_status_view_and_nothing_is_erased(
    page, intake, local_cloud, fresh_subject
):
    from playwright.sync_api import expect

    carl = fresh_subject("carl")
    before = holdings(local_cloud.datamap, local_cloud.clients, carl)
    page.goto(intake.url + "/")
    page.get_by_label("Erase my data").check()
    page.get_by_label("Your email address").fill(carl["email"])
    page.get_by_role("button", name="Send request").click()
    expect(page.locator("#verify-request-id")).to_have_text(re.compile(r"^req-"))
    request_id = page.locator("#verify-request-id").inner_text()
    page.get_by_label("Verification code").fill(read_code(intake.outbox, request_id))
    page.get_by_role("button", name="Confirm").click()

    # The erasure waits out its grace period before any store is acted on: the button is offered meanwhile.
    page.get_by_role("button", name="Cancel this request").click()

    expect(page.locator("#status-value")).to_have_attribute("data-status", "cancelled")
    expect(page.locator("#status-value")).to_have_text("Cancelled at your request: nothing was done")
    expect(page.get_by_role("button", name="Cancel this request")).to_be_hidden()
    record = local_cloud.clients.resource_table(local_cloud.outputs["RequestsTableName"]).get_item(
        Key={"request_id": request_id, "record": "request"}, ConsistentRead=True
    )["Item"]
    assert record["status"] == "cancelled" and "subject" not in record
    assert holdings(local_cloud.datamap, local_cloud.clients, carl) == before


def test_the_form_offers_topics_reports_gpc_and_files_for_an_agent(browser, intake, local_cloud, fresh_subject):
    """A browser with Global Privacy Control on: the form says so, an opt-out of one topic needs no code and
    withdraws that topic only; an agent's filing sends the code to the consumer and names the agent in evidence."""
    from playwright.sync_api import expect

    context = browser.new_context()
    # Chromium has no GPC switch: the page sees the signal as a browser that sends it would show it.
    context.add_init_script("Object.defineProperty(navigator, 'globalPrivacyControl', {value: true})")
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        fay, gus = fresh_subject("fay"), fresh_subject("gus")
        page.goto(intake.url + "/")
        expect(page.locator("#gpc-notice")).to_be_visible()
        expect(page.locator("#gpc-notice")).to_contain_text("Global Privacy Control")
        expect(page.locator("#topics")).to_be_hidden()

        page.get_by_label("Stop marketing and do not sell or share my data").check()
        expect(page.locator("#topics")).to_be_visible()
        page.get_by_label("Only newsletter").check()
        page.get_by_label("Your email address").fill(fay["email"])
        page.get_by_role("button", name="Send request").click()

        # No code step: straight to the status, which completes.
        expect(page.locator("#step-verify")).to_be_hidden()
        expect(page.locator("#status-value")).to_have_attribute("data-status", "completed", timeout=120_000)
        request_id = page.locator("#status-request-id").inner_text()
        store = local_cloud.datamap.stores["newsletter"]
        sesv2 = local_cloud.clients.client("sesv2")
        contact = sesv2.get_contact(ContactListName=store.resource, EmailAddress=fay["email"])
        topics = {p["TopicName"]: p["SubscriptionStatus"] for p in contact["TopicPreferences"]}
        assert topics == {"newsletter": "OPT_OUT", "product-updates": "OPT_IN"}
        s3, bucket = local_cloud.clients.client("s3"), local_cloud.outputs["AuditBucketName"]
        received_key = f"requests/{request_id}/chain/0000-received.json"
        received = json.loads(s3.get_object(Bucket=bucket, Key=received_key)["Body"].read())
        assert received["gpc"] is True and received["topics"] == ["newsletter"]

        # An agent files an erasure for Gus: the agent fields appear on demand and are checked in the page.
        page.goto(intake.url + "/")
        page.get_by_label("Erase my data").check()
        expect(page.locator("#topics")).to_be_hidden()
        page.get_by_label("Your email address").fill(gus["email"])
        page.get_by_label("I am an authorised agent filing for someone else").check()
        page.get_by_role("button", name="Send request").click()
        expect(page.locator("#agent-name-error")).to_have_text("Enter your name or your agency's name")
        page.get_by_label("Your name or your agency's name").fill("Rights Agency")
        page.get_by_label("Agent's email address, for status updates").fill("desk@agency.example")
        page.get_by_role("button", name="Send request").click()

        expect(page.locator("#verify-request-id")).to_have_text(re.compile(r"^req-"))
        expect(page.locator("#sent-to")).to_have_text(gus["email"])  # the code goes to the consumer
        agent_request = page.locator("#verify-request-id").inner_text()
        assert read_code(intake.outbox, agent_request)
        received_key = f"requests/{agent_request}/chain/0000-received.json"
        received = json.loads(s3.get_object(Bucket=bucket, Key=received_key)["Body"].read())
        assert received["agent"].startswith("hmac-sha256:") and received["gpc"] is True
    finally:
        context.close()


def test_the_forms_topic_boxes_are_the_deployed_data_maps_topics(browser, page, intake, local_cloud, tmp_path):
    """Deployed with a data map whose contact list has other topics, the form offers exactly those."""
    from playwright.sync_api import expect

    lambda_client = local_cloud.clients.client("lambda")
    (intake_fn,) = [
        f
        for page_of in lambda_client.get_paginator("list_functions").paginate()
        for f in page_of["Functions"]
        if f["Handler"] == "functions.handlers.intake.handler"
    ]
    variables = intake_fn["Environment"]["Variables"]
    # The deployed map, as infra/lambda_code.py bundles it, with other topics on its contact list.
    datamap = json.loads(local_cloud.datamap.model_dump_json(by_alias=True))
    (contact_list,) = [s for s in datamap["stores"].values() if s["kind"] == "ses_contact_list"]
    contact_list["topics"] = ["events", "partner-offers", "weekly-digest"]
    other = tmp_path / "datamap.json"
    other.write_text(json.dumps(datamap))
    name = intake_fn["FunctionName"]
    lambda_client.update_function_configuration(
        FunctionName=name, Environment={"Variables": {**variables, "DATAMAP_FILE": str(other)}}
    )
    try:
        page.goto(intake.url + "/")
        page.get_by_label("Stop marketing and do not sell or share my data").check()
        boxes = page.locator("#topic-choices input[name=topics]")
        expect(boxes).to_have_count(3)
        assert [boxes.nth(i).get_attribute("value") for i in range(3)] == ["events", "partner-offers", "weekly-digest"]
        expect(page.get_by_label("Only partner offers")).to_be_visible()
        expect(page.get_by_label("Only newsletter")).to_have_count(0)
    finally:
        lambda_client.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
    # The topics may be cached (Cache-Control: public): a new visitor sees the sample map's again.
    context = browser.new_context()
    try:
        fresh = context.new_page()
        fresh.goto(intake.url + "/")
        fresh.get_by_label("Stop marketing and do not sell or share my data").check()
        expect(fresh.locator("#topic-choices input[name=topics]")).to_have_count(2)
        expect(fresh.get_by_label("Only newsletter")).to_be_visible()
    finally:
        context.close()


def test_a_californian_asks_for_the_direct_marketing_disclosure_notice_through_the_form(
    page, intake, local_cloud, fresh_subject
):
    from playwright.sync_api import expect

    cal = fresh_subject("calform")
    page.goto(intake.url + "/")
    page.get_by_label("Tell me what you shared with others for their direct marketing").check()
    page.get_by_label("Your email address").fill(cal["email"])
    # The form's default is GDPR: it says this notice is California's before the API would refuse it.
    page.get_by_role("button", name="Send request").click()
    expect(page.locator("#jurisdiction-error")).to_contain_text("choose California (CCPA)")
    expect(page.locator("#verify-request-id")).to_be_hidden()

    page.get_by_label("Where do you live?").select_option("CCPA")
    page.get_by_role("button", name="Send request").click()
    expect(page.locator("#verify-request-id")).to_have_text(re.compile(r"^req-"))
    request_id = page.locator("#verify-request-id").inner_text()
    page.get_by_label("Verification code").fill(read_code(intake.outbox, request_id))
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#status-value")).to_have_attribute("data-status", "completed", timeout=120_000)

    record = local_cloud.clients.resource_table(local_cloud.outputs["RequestsTableName"]).get_item(
        Key={"request_id": request_id, "record": "request"}, ConsistentRead=True
    )["Item"]
    assert (record["type"], record["jurisdiction"], record["status"]) == ("disclosure_notice", "CCPA", "completed")
    s3, bucket = local_cloud.clients.client("s3"), local_cloud.outputs["AuditBucketName"]
    received_key = f"requests/{request_id}/chain/0000-received.json"
    received = json.loads(s3.get_object(Bucket=bucket, Key=received_key)["Body"].read())
    assert (received["request_type"], received["jurisdiction"]) == ("disclosure_notice", "CCPA")
    notices = [text for _, text in emails_for(intake.outbox, request_id) if "Verification code" not in text]
    assert any(local_cloud.datamap.categories["contact"].description in text for text in notices)
