//! The operators' console in a real browser (headless Chromium from the
//! system packages, over WebDriver) against the whole local system, through
//! the console only: the README walk-through, a write-off with
//! maker-checker, a bulk reprocess of 100 pending messages, and a CSV export
//! checked cell by cell against the API.
//! Each saves screenshots of its pages into .local/console-screenshots/
//! (`SCREENSHOTS_DIR=docs/console` refreshes the README's). Needs the local stack and Chromium (`./dev.sh test` provides both).

mod browser;

use std::time::Duration;

use browser::*;
use serde_json::Value;

const SEED_ID: &str = "202404261024009777553";
const SEED_CARD: &str = "47r45e73-7dwe-43f9-bk6b-5096F5reb5cd";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_readme_walk_through_through_the_console_only() {
    let system = System::start("uiwalk").await;
    // What the network sends (as in the README): the authorization, then the seed verbatim.
    system.notify(
        "authorizations",
        &format!(
            r#"{{"authorizations":[{{"transUid":"20240426O9EC2A","cardReference":"{SEED_CARD}",
             "transactionAmount":12.34,"transactionCurrency":"USD","merchantCategoryCode":"4111",
             "authorizationDateTime":"2024-04-24T16:01:00Z","status":"APPROVED"}}]}}"#
        ),
    );
    system.notify(
        "clearing",
        include_str!("../../../spec/mastercard-clearing-notification.example.json"),
    );
    let browser = Browser::start().await;
    browser
        .goto(&system.console_url(&system.token("alice"), "#/queue"))
        .await;
    let link = format!("a[href='#/message/{SEED_ID}']");
    browser.wait_text(&link, |t| t == SEED_ID).await;
    browser.screenshot("queue").await;
    browser.click(&link).await;

    let reason = browser
        .wait_text("#message-reason", |t| t.contains("INVALID_FIELD"))
        .await;
    assert!(reason.contains("transactionLocalDate"), "{reason}");
    assert_eq!(browser.text("#message-status").await, "PENDING");
    let fields = browser.text("#fields").await;
    assert!(
        fields.contains("transactionLocalDate 2024-24-04"),
        "{fields}"
    );
    // The form checks the field's type before anything is sent.
    let adjust = ".adjustment input[name='new_value']";
    browser.fill(adjust, "2024-13-01").await;
    browser
        .fill(
            "input[name='reconciliation_reason']",
            "month and day swapped",
        )
        .await;
    browser.click("#reprocess").await;
    browser
        .wait_text("#status", |t| {
            t.contains("transactionLocalDate is not a calendar date")
        })
        .await;
    assert_eq!(browser.text("#message-status").await, "PENDING");
    browser.screenshot("message-pending").await;

    browser.fill(adjust, "2024-04-24").await;
    browser.click("#reprocess").await;
    browser
        .wait_text_for("#message-status", Duration::from_secs(40), |t| {
            t == "MATCHED"
        })
        .await;
    let history = browser.text("#history").await;
    assert!(
        history.contains("transactionLocalDate: 2024-24-04 → 2024-04-24"),
        "{history}"
    );
    assert!(history.contains("operator:alice"), "{history}");
    assert!(history.contains("month and day swapped"), "{history}");
    browser.screenshot("message-matched").await;

    // What the page showed is what the API holds.
    let (status, message) = system.api(
        &system.token("alice"),
        "GET",
        &format!("/v1/clearing-messages/{SEED_ID}"),
        "",
    );
    assert_eq!((status, message["status"].as_str()), (200, Some("MATCHED")));
    assert_eq!(message["fields"]["transactionLocalDate"], "2024-04-24");

    // Today's line of the daily summary counts it as matched; the chart is drawn.
    browser.goto("about:blank").await;
    browser
        .goto(&system.console_url(&system.token("alice"), "#/reports"))
        .await;
    let today = chrono::Utc::now().date_naive().to_string();
    let daily = browser
        .wait_text("table.daily tbody", |t| {
            t.contains(&format!("{today} status MATCHED"))
        })
        .await;
    assert!(
        daily.contains(&format!("{today} status MATCHED USD 1 12.34")),
        "{daily}"
    );
    assert_eq!(browser.count("figure.chart svg path").await, 2);
    browser.screenshot("reports").await;
    browser.goto("about:blank").await;
    browser
        .goto(&system.console_url(&system.token("alice"), "#/pix"))
        .await;
    browser
        .wait_text("table.pix-counts caption", |t| t.starts_with("Outcomes on"))
        .await;
    browser.screenshot("pix").await;
    browser.close().await;
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bulk_reprocess_of_100_pending_messages_reports_each_outcome() {
    let system = System::start("uibulk").await;
    let records = pending_batch("BULK", 100);
    notify_records(&system, &records);
    let token = system.token("alice");
    assert_eq!(system.list_all(&token, "status=PENDING").len(), 100);
    // Their authorizations arrive afterwards: a reprocess now matches them.
    let auths: Vec<(String, String, String)> = records
        .iter()
        .map(|(_, uid, card, amount)| (uid.clone(), card.clone(), amount.clone()))
        .collect();
    for chunk in auths.chunks(25) {
        system.notify("authorizations", &authorizations(chunk));
    }

    let browser = Browser::start().await;
    browser
        .goto(&system.console_url(&token, "#/queue?status=PENDING&limit=100"))
        .await;
    browser
        .wait_text("table.queue caption", |t| {
            t.starts_with("100 messages on this page")
        })
        .await;
    browser
        .click("table.queue thead input[type='checkbox']")
        .await;
    assert_eq!(browser.text("#selected-count").await, "100 selected");
    browser.click("#bulk-reprocess").await;
    browser
        .fill(
            "dialog textarea[name='reason']",
            "authorizations arrived late",
        )
        .await;
    browser.click("dialog button[type='submit']").await;
    let progress = browser
        .wait_text_for("#bulk-progress label", Duration::from_secs(90), |t| {
            t.ends_with("100 of 100")
        })
        .await;
    assert!(progress.contains("100 of 100"), "{progress}");
    let outcomes = browser.text("table.outcomes").await;
    assert_eq!(outcomes.matches("ACCEPTED").count(), 100, "{outcomes}");
    browser.screenshot("queue-bulk").await;

    // The worker matched every one of them.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let open = system.list_all(&token, "status=PENDING").len()
            + system.list_all(&token, "status=REPROCESSING").len();
        if open == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{open} still open");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for (id, ..) in records.iter().step_by(17) {
        let (_, m) = system.api(&token, "GET", &format!("/v1/clearing-messages/{id}"), "");
        assert_eq!(m["status"], "MATCHED", "{id}");
        assert!(
            m["history"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["reason"] == "authorizations arrived late"),
            "{m}"
        );
    }
    browser.close().await;
    system.stop().await;
}

/// The value the list API gives for a column of the export (the same names).
fn api_cell(m: &Value, column: &str) -> String {
    match &m[column] {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_csv_export_holds_every_page_cell_by_cell_as_the_api_says() {
    let system = System::start("uicsv").await;
    let mut records = pending_batch("CSV", 130);
    // A merchant name or card with a comma and a quote must survive the quoting.
    records[3].2 = "card,with \"quote\"".into();
    notify_records(&system, &records);
    let token = system.token("alice");
    let browser = Browser::start().await;
    browser
        .goto(&system.console_url(&token, "#/queue?status=PENDING&limit=25"))
        .await;
    browser
        .wait_text("table.queue caption", |t| {
            t.starts_with("25 messages on this page")
        })
        .await;
    browser.click("#export-csv").await;
    let file = browser.downloaded().await;
    let rows = parse_csv(&std::fs::read_to_string(&file).unwrap());
    browser
        .wait_text("#status", |t| t.starts_with("Exported"))
        .await;
    browser.screenshot("queue-export").await;

    let api = system.list_all(&token, "status=PENDING");
    assert_eq!(api.len(), 130);
    let (header, body) = rows.split_first().unwrap();
    assert_eq!(body.len(), api.len(), "one row per message, every page");
    for (row, m) in body.iter().zip(&api) {
        assert_eq!(row.len(), header.len(), "{row:?}");
        for (column, cell) in header.iter().zip(row) {
            assert!(
                m.get(column.as_str()).is_some(),
                "{column} is not a field of the list API"
            );
            assert_eq!(
                cell,
                &api_cell(m, column),
                "{column} of {}",
                m["clearing_unique_id"]
            );
        }
    }
    assert!(body
        .iter()
        .any(|r| r.contains(&"card,with \"quote\"".to_owned())));
    browser.close().await;
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_off_needs_a_second_operator_the_makers_own_approval_is_refused() {
    let system = System::start("uiwo").await;
    let records = pending_batch("WOFF", 1);
    notify_records(&system, &records);
    let id = records[0].0.clone();
    let (alice, bob) = (system.token("alice"), system.token("bob"));
    let browser = Browser::start().await;

    // The maker asks for the write-off from the message page.
    browser
        .goto(&system.console_url(&alice, &format!("#/message/{id}")))
        .await;
    browser
        .wait_text("#message-status", |t| t == "PENDING")
        .await;
    browser.click("#request-write-off").await;
    browser
        .fill(
            "dialog textarea[name='reason']",
            "acquirer confirmed a duplicate",
        )
        .await;
    browser
        .fill("dialog input[name='remark']", "ticket OPS-42")
        .await;
    browser.click("dialog button[type='submit']").await;
    browser
        .wait_text("#message-status", |t| t == "WRITE_OFF_REQUESTED")
        .await;
    let request = browser.text("#write-off-request").await;
    assert!(
        request.contains("alice") && request.contains("ticket OPS-42"),
        "{request}"
    );

    // Her own approval is refused, with the API's reason on screen.
    browser.click(".writeoff button.approve").await;
    browser
        .fill("dialog textarea[name='reason']", "checked")
        .await;
    browser.click("dialog button[type='submit']").await;
    let refused = browser
        .wait_text("#status", |t| t.contains("BTN0202"))
        .await;
    assert!(refused.contains("cannot decide"), "{refused}");
    browser.screenshot("write-off-refused").await;
    let (_, m) = system.api(&alice, "GET", &format!("/v1/clearing-messages/{id}"), "");
    assert_eq!(m["status"], "WRITE_OFF_REQUESTED");

    // The checker approves it from the list of write-offs awaiting approval.
    browser.goto("about:blank").await;
    browser
        .goto(&system.console_url(&bob, "#/write-offs"))
        .await;
    browser
        .wait_text("table.writeoffs tbody", |t| t.contains(&id))
        .await;
    browser.screenshot("write-offs").await;
    browser.click("table.writeoffs button.approve").await;
    browser
        .fill(
            "dialog textarea[name='reason']",
            "duplicate confirmed with the acquirer",
        )
        .await;
    browser.click("dialog button[type='submit']").await;
    browser
        .wait_text("#status", |t| t.contains("approved"))
        .await;
    browser
        .wait_text("table.writeoffs caption", |t| t.starts_with("0 "))
        .await;

    let (_, m) = system.api(&bob, "GET", &format!("/v1/clearing-messages/{id}"), "");
    assert_eq!(m["status"], "WRITTEN_OFF", "{m}");
    let history = m["history"].as_array().unwrap();
    let approved = history.last().unwrap();
    assert_eq!(approved["actor"], "operator:bob", "{approved}");
    assert!(
        history
            .iter()
            .any(|t| t["actor"] == "operator:alice" && t["to"] == "WRITE_OFF_REQUESTED"),
        "{m}"
    );
    browser.goto("about:blank").await;
    browser
        .goto(&system.console_url(&bob, &format!("#/message/{id}")))
        .await;
    browser
        .wait_text("#message-status", |t| t == "WRITTEN_OFF")
        .await;
    browser.screenshot("message-written-off").await;
    browser.close().await;
    system.stop().await;
}
