//! The flows that make every kind of AWS call each function has, run once per
//! test binary on clients that log them: webhook ingest (authorizations,
//! rejected ones, clearing records pending, matched with a claim, and a
//! redelivery that gives its claim back); API reconcile (and a take-over
//! after the lease), message read, both lists and the four search forms;
//! worker reconciliation jobs and Pix inputs up to the day's close; the
//! expiry sweep over the flows' authorizations (all authorized in 2024: the
//! open ones expire, the cleared one leaves the index); the outbox publisher
//! on the table's stream throughout (events and jobs).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use integration_tests::*;
use shared::adapters::call_log::{AwsCall, CallLog};

pub const WEBHOOK: &str = "ClearingWebhookFunction";
pub const API: &str = "ReconciliationApiFunction";
pub const WORKER: &str = "ReprocessingWorkerFunction";
pub const PUBLISHER: &str = "OutboxPublisherFunction";
pub const EXPIRY: &str = "AuthorizationExpiryFunction";

/// What each function's code called, by the function's logical id, and the
/// local stack's names of the template's resources (to name them back).
pub struct Recorded {
    pub calls: BTreeMap<&'static str, Vec<AwsCall>>,
    pub provisioned: devstack::Provisioned,
}

/// The flows' calls, recorded on the first use (on a runtime of their own, so
/// that any test, async or not, can ask for them).
pub fn recorded() -> &'static Recorded {
    static RECORDED: OnceLock<Recorded> = OnceLock::new();
    RECORDED.get_or_init(|| {
        std::thread::spawn(|| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(record())
        })
        .join()
        .expect("the recorded flows ran")
    })
}

async fn record() -> Recorded {
    let stack = TestStack::without_publisher().await;
    let logs = [WEBHOOK, API, WORKER, PUBLISHER, EXPIRY].map(|f| (f, CallLog::new()));
    let publisher = stack.publisher_recording(&logs[3].1);
    stack.start_publisher(std::sync::Arc::new(publisher)).await;
    webhook_flows(&stack.webhook_recording(&logs[0].1).await).await;
    api_flows(&stack, &logs[1].1).await;
    let worker = stack.worker_recording(&logs[2].1);
    run_queue(&stack, &worker, "ReprocessingQueue").await;
    pix_flows(&stack, &worker).await;
    expiry_flows(&stack, &logs[4].1).await;
    // The last writes' events leave through the stream.
    stack
        .drain(
            &stack.all_events,
            usize::MAX,
            std::time::Duration::from_secs(4),
        )
        .await;
    stack.stop_publisher();
    Recorded {
        calls: logs.iter().map(|(f, log)| (*f, log.calls())).collect(),
        provisioned: stack.provisioned.clone(),
    }
}

const CARD: &str = "47r45e73-7dwe-43f9-bk6b-5096F5reb5cd";

async fn post(webhook: &clearing_webhook::WebhookService, kind: &str, body: &str) {
    let path = format!("/v1/webhooks/mastercard/{kind}");
    let resp = clearing_webhook::handle(webhook, signed_webhook(&path, body))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", response_json(&resp));
}

fn clearing(records: &[String]) -> String {
    format!(r#"{{"clearing": [{}]}}"#, records.join(","))
}

async fn webhook_flows(webhook: &clearing_webhook::WebhookService) {
    // The seed (pending on its date) and its authorization, for the API's request.
    post(
        webhook,
        "authorizations",
        &seed_authorization("12.34", "4111"),
    )
    .await;
    post(webhook, "clearing", SEED_NOTIFICATION).await;
    // An unreadable authorization is kept aside.
    post(
        webhook,
        "authorizations",
        r#"{"authorizations": [{"transUid": 7}]}"#,
    )
    .await;
    // Authorization first, then its clearing: matched, the authorization claimed.
    // (Another card: the seed's card keeps one pending message for the API's request.)
    let (card, matched, uid) = (unique("card-"), unique("m-"), unique("uid-"));
    post(
        webhook,
        "authorizations",
        &authorization(&uid, &card, "3.00", "4111"),
    )
    .await;
    post(
        webhook,
        "clearing",
        &clearing(&[clearing_record(&matched, &uid, &card, "3.00", "4111")]),
    )
    .await;
    // Clearing first (pending), its authorization later, then a redelivery:
    // the claim its second reading takes is given back (condition check + update).
    let (early, late_uid) = (unique("e-"), unique("uid-"));
    let record = clearing(&[clearing_record(&early, &late_uid, &card, "4.00", "4111")]);
    post(webhook, "clearing", &record).await;
    post(
        webhook,
        "authorizations",
        &authorization(&late_uid, &card, "4.00", "4111"),
    )
    .await;
    post(webhook, "clearing", &record).await;
    // Records of another date, for the date searches.
    let later: Vec<String> = (0..2)
        .map(|i| {
            clearing_record(
                &unique(&format!("d{i}-")),
                &unique("u-"),
                &card,
                "5.00",
                "4111",
            )
            .replace("2024-04-24", "2024-05-02")
        })
        .collect();
    post(webhook, "clearing", &clearing(&later)).await;
}

async fn api_call(api: &reconciliation_api::ApiService, method: &str, path: &str, body: &str) {
    let token = operator_token("clearing:read clearing:reconcile");
    let resp = reconciliation_api::handle(api, api_request(method, path, Some(&token), body))
        .await
        .unwrap();
    let status = resp.status().as_u16();
    assert!(
        status < 300,
        "{method} {path}: {status} {}",
        response_json(&resp)
    );
}

async fn api_flows(stack: &TestStack, log: &CallLog) {
    let api = stack.api_recording(log).await;
    for path in [
        "/v1/clearing-messages/202404261024009777553".to_owned(),
        format!("/v1/clearing-messages?card_network=MASTERCARD&card_hash={CARD}&limit=1"),
        "/v1/clearing-messages?status=PENDING&limit=2".to_owned(),
        "/v1/clearing-search?transUid=20240426O9EC2A".to_owned(),
        "/v1/clearing-search?transactionStartDate=2024-04-20&transactionEndDate=2024-05-30"
            .to_owned(),
        "/v1/clearing-search?afterTransactionDate=2024-04-30".to_owned(),
        "/v1/clearing-search?cursor=0&limit=2".to_owned(),
    ] {
        api_call(&api, "GET", &path, "").await;
    }
    let fix = format!(
        r#"{{"card_network": "MASTERCARD", "card_hash": "{CARD}", "reconciliation_reason": "month and day swapped",
            "adjustments": [{{"field": "transactionLocalDate", "new_value": "2024-04-24"}}]}}"#
    );
    api_call(&api, "POST", "/v1/clearing-reconciliation", &fix).await;
    // Past the lease (zero here), a new request takes the message over: released, then taken.
    let mut impatient = stack.api_recording(log).await;
    impatient.reprocessing_lease = chrono::Duration::zero();
    api_call(&impatient, "POST", "/v1/clearing-reconciliation", &fix).await;
    console_flows(stack, &api).await;
}

/// The console's reads and actions: force match and its undo (claim taken and
/// given back), a bulk write-off (progress), its approval by another
/// operator, and the announcements.
async fn console_flows(stack: &TestStack, api: &reconciliation_api::ApiService) {
    let (id, uid, card) = (unique("con-"), unique("conuid-"), unique("concard-"));
    let webhook = stack.webhook();
    for (kind, body) in [
        ("authorizations", authorization(&uid, &card, "9.00", "4111")),
        (
            "clearing",
            clearing(&[clearing_record(&id, &uid, &card, "15.00", "4111")]),
        ),
    ] {
        let path = format!("/v1/webhooks/mastercard/{kind}");
        let resp = clearing_webhook::handle(&webhook, signed_webhook(&path, &body))
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    let call = |sub: &'static str, method: &'static str, path: String, body: String| async move {
        let token = operator_token_for(
            sub,
            "clearing:read clearing:reconcile clearing:resolve clearing:approve",
        );
        let resp = reconciliation_api::handle(api, api_request(method, &path, Some(&token), &body))
            .await
            .unwrap();
        let json = response_json(&resp);
        assert!(resp.status().as_u16() < 300, "{method} {path}: {json}");
        json
    };
    for path in [
        "/v1/queue/summary?status=PENDING",
        "/v1/clearing-messages?status=PENDING&reason=AMOUNT_DIVERGENT&limit=5",
        "/v1/clearing-messages?status=PENDING&sort=-amount&limit=5",
        "/v1/reports/daily-summary?days=2",
        "/v1/pix/results?date=2021-10-29",
    ] {
        call("alice", "GET", path.to_owned(), String::new()).await;
    }
    let message = format!("/v1/clearing-messages/{id}");
    let body = format!(r#"{{"authorizationTransUid": "{uid}", "reason": "confirmed"}}"#);
    call("alice", "POST", format!("{message}/force-match"), body).await;
    call(
        "alice",
        "POST",
        format!("{message}/undo-match"),
        r#"{"reason": "r"}"#.into(),
    )
    .await;
    let bulk = format!(
        r#"{{"action": "write-off", "clearingUniqueIds": ["{id}"], "reason": "r", "idempotencyKey": "{id}"}}"#
    );
    let started = call("alice", "POST", "/v1/bulk-actions".into(), bulk).await;
    let bulk_id = started["bulkId"].as_str().unwrap().to_owned();
    call(
        "alice",
        "GET",
        format!("/v1/bulk-actions/{bulk_id}"),
        String::new(),
    )
    .await;
    let open = call("bob", "GET", "/v1/write-offs".into(), String::new()).await;
    let wo = open["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["clearingUniqueId"] == id.as_str())
        .unwrap()["writeOffId"]
        .as_str()
        .unwrap()
        .to_owned();
    call(
        "bob",
        "POST",
        format!("/v1/write-offs/{wo}/approve"),
        r#"{"reason": "ok"}"#.into(),
    )
    .await;
    let resp = reconciliation_api::handle(
        api,
        api_request(
            "GET",
            "/v1/clearing-messages/export.csv?status=PENDING",
            Some(&operator_token("clearing:read")),
            "",
        ),
    )
    .await
    .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

/// Feeds `queue` to the worker, in SQS batches, until it stays empty (jobs
/// arrive through the outbox publisher, a moment after their request).
async fn run_queue(stack: &TestStack, worker: &reprocessing_worker::WorkerService, queue: &str) {
    let queue = stack.provisioned.queue(queue).unwrap().clone();
    let mut empty = 0;
    for _ in 0..30 {
        let batch = stack.receive_batch(&queue, 30).await;
        if batch.is_empty() {
            empty += 1;
            if empty == 3 {
                return;
            }
            continue;
        }
        empty = 0;
        let response = stack.run_worker_batch(worker, &queue, batch).await;
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
    }
}

/// Pix inputs are published on the bus by their producers (the test's own
/// clients here, not a function's) and reach the worker through its queue.
async fn pix_flows(stack: &TestStack, worker: &reprocessing_worker::WorkerService) {
    let salt = uuid::Uuid::new_v4().simple().to_string()[..8].to_ascii_uppercase();
    let (paired, open) = (
        format!("E40867163202206292047{salt}001"),
        format!("E40867163202206292047{salt}002"),
    );
    let tx = |e2e: &str| {
        format!(
            r#"{{"transaction_id": "tx-{e2e}", "end_to_end_id": "{e2e}", "amount": 10.00, "authorization_id": 1,
                "authorization_datetime": "2021-10-29T11:00:00.000Z", "business_date": "2021-10-29", "kind": "PIX_OUT_TRANSFER"}}"#
        )
    };
    let entry = format!(
        r#"{{"end_to_end_id": "{paired}", "provider_amount": "10.00", "provider_authorization_id": "1", "business_date": "2021-10-29"}}"#
    );
    publish(
        stack,
        &[
            ("pix_transaction", tx(&paired)),
            ("provider_settlement_entry", entry),
        ],
    )
    .await;
    publish(stack, &[("pix_transaction", tx(&open))]).await;
    run_queue(stack, worker, "PixInputQueue").await;
    // The day's close decides the transaction still open (the sparse index sweep).
    publish(
        stack,
        &[(
            "provider_report_closed",
            r#"{"business_date": "2021-10-29", "entry_count": 1, "total_amount": "10.00"}"#.into(),
        )],
    )
    .await;
    run_queue(stack, worker, "PixInputQueue").await;
}

async fn publish(stack: &TestStack, inputs: &[(&str, String)]) {
    let mut request = stack.clients.eventbridge.put_events();
    for (detail_type, detail) in inputs {
        request = request.entries(
            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .event_bus_name(stack.bus_name())
                .source("pix.inputs")
                .detail_type(*detail_type)
                .detail(detail.as_str())
                .build(),
        );
    }
    assert_eq!(request.send().await.unwrap().failed_entry_count(), 0);
}

async fn expiry_flows(stack: &TestStack, log: &CallLog) {
    let function = authorization_expiry::ExpiryFunction::from_config(
        &stack.env(),
        &stack.clients.aws().recording_into(log),
    )
    .unwrap();
    let invocation = authorization_expiry::ScheduleInvocation::default();
    let report = authorization_expiry::sweep(&function, &invocation, chrono::Utc::now())
        .await
        .unwrap();
    assert!(report.expired > 0 && report.closed > 0, "{report:?}");
    assert!(report.failed.is_empty(), "{report:?}");
}
