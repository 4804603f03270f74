//! Shared set-up of the integration tests: each test provisions its own copy
//! of the template's resources (a unique name prefix) on the local stack, so
//! tests run in parallel without seeing each other's records or messages.
//! The functions are built by their own `from_config`, from the provisioned
//! resources and the test settings below, as the local runner builds them:
//! the test secrets are stored in moto's Secrets Manager under the test's
//! prefix, and the functions read them there by ARN.

use std::sync::LazyLock;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use clearing_webhook::WebhookService;
use devstack::payload::payload;
use devstack::{
    add_subscriber, provision_with, HttpApi, HttpRequest, Invocation, LocalClients, Provisioned,
    QueueInfo, Template,
};
use reconciliation_api::ApiService;
use reprocessing_worker::WorkerService;
use shared::adapters::call_log::CallLog;
use shared::adapters::DynamoDbClearingStore;
use shared::config::Env;
use shared::webhook_auth::sign;

pub use devstack::{mint_hs256, Claims};

pub const WEBHOOK_SECRET: &str = "integration-test-webhook-secret";
/// The secret mastercard signed with before the rotation (still accepted).
pub const PREVIOUS_WEBHOOK_SECRET: &str = "integration-test-previous-webhook-secret";
/// Another network's secret: it must not open mastercard's routes.
pub const VISA_WEBHOOK_SECRET: &str = "integration-test-visa-webhook-secret";
pub const MTLS_SUBJECT: &str = "CN=clearing.mastercard.test";
pub const MTLS_ISSUER: &str = "CN=Mastercard Test CA";
pub const VISA_MTLS_SUBJECT: &str = "CN=clearing.visa.test";
pub const VISA_MTLS_ISSUER: &str = "CN=Visa Test CA";
pub const JWT_SECRET: &str = "integration-test-jwt-secret";
pub const JWT_ISSUER: &str = "https://auth.local/";
pub const JWT_AUDIENCE: &str = "clearing-reconciliation-api";

/// The tests' own secrets and token settings (the role `local/local.env` plays for the local run).
pub fn test_settings() -> Vec<(String, String)> {
    let webhook_secrets = serde_json::json!({
        "mastercard": [WEBHOOK_SECRET, PREVIOUS_WEBHOOK_SECRET],
        "visa": [VISA_WEBHOOK_SECRET],
    });
    [
        ("WEBHOOK_SECRETS", webhook_secrets.to_string()),
        (
            "MTLS_ALLOWED_SUBJECTS",
            format!(
                "mastercard={MTLS_SUBJECT}|issuer={MTLS_ISSUER};visa={VISA_MTLS_SUBJECT}|issuer={VISA_MTLS_ISSUER}"
            ),
        ),
        ("JWT_HS256_SECRET", JWT_SECRET.to_owned()),
        ("JWT_ISSUER", JWT_ISSUER.to_owned()),
        ("JWT_AUDIENCE", JWT_AUDIENCE.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

pub struct TestStack {
    pub clients: LocalClients,
    pub provisioned: Provisioned,
    /// Receives every event the product puts on the bus.
    pub all_events: QueueInfo,
    /// Built once by their `from_config`, which reads the secrets (async):
    /// `webhook()` and `api()` hand out copies a test may change.
    webhook: WebhookService,
    api: ApiService,
}

impl TestStack {
    pub async fn new() -> Self {
        let prefix = format!("t{}-", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let clients = LocalClients::new().await;
        let template = Template::repo_default().expect("template.yaml readable");
        let provisioned = provision_with(&template, &prefix, &clients, &test_settings())
            .await
            .expect(
                "local stack reachable: start it with `local/stack.sh start` (./dev.sh test does)",
            );
        let bus = provisioned.bus("ReconciliationBus").unwrap().to_owned();
        let all_events = add_subscriber(
            &clients,
            &bus,
            &serde_json::json!({"source": ["clearing", "pix"]}),
            &format!("{prefix}all-events"),
        )
        .await
        .unwrap();
        let env = Env::from_pairs(devstack::function_env(&provisioned, &test_settings()).unwrap());
        let aws = clients.aws();
        let webhook = WebhookService::from_config(&env, &aws).await.unwrap();
        let api = ApiService::from_config(&env, &aws).await.unwrap();
        Self {
            clients,
            provisioned,
            all_events,
            webhook,
            api,
        }
    }

    pub fn table(&self) -> String {
        self.provisioned.table("ClearingTable").unwrap().to_owned()
    }

    pub fn bus_name(&self) -> String {
        self.provisioned
            .bus("ReconciliationBus")
            .unwrap()
            .to_owned()
    }

    pub fn store(&self) -> DynamoDbClearingStore {
        DynamoDbClearingStore::new(self.clients.dynamodb.clone(), self.table())
    }

    /// What the functions read: this stack's resources and the test settings.
    pub fn env(&self) -> Env {
        Env::from_pairs(devstack::function_env(&self.provisioned, &test_settings()).unwrap())
    }

    pub fn webhook(&self) -> WebhookService {
        self.webhook.clone()
    }

    pub fn api(&self) -> ApiService {
        self.api.clone()
    }

    pub fn worker(&self) -> WorkerService {
        WorkerService::from_config(&self.env(), &self.clients.aws()).unwrap()
    }

    /// The functions on clients that log every AWS call they make into `log`
    /// (the deployed-shape test checks those calls against each function's IAM policy).
    pub async fn webhook_recording(&self, log: &CallLog) -> WebhookService {
        WebhookService::from_config(&self.env(), &self.clients.aws().recording_into(log))
            .await
            .unwrap()
    }

    pub async fn api_recording(&self, log: &CallLog) -> ApiService {
        ApiService::from_config(&self.env(), &self.clients.aws().recording_into(log))
            .await
            .unwrap()
    }

    pub fn worker_recording(&self, log: &CallLog) -> WorkerService {
        WorkerService::from_config(&self.env(), &self.clients.aws().recording_into(log)).unwrap()
    }

    pub fn reprocessing_queue(&self) -> QueueInfo {
        self.provisioned.queue("ReprocessingQueue").unwrap().clone()
    }

    /// Waits until `queue` has delivered at least `count` messages (or `wait` passes)
    /// and returns their bodies as JSON, deleting them.
    pub async fn drain(
        &self,
        queue: &QueueInfo,
        count: usize,
        wait: Duration,
    ) -> Vec<serde_json::Value> {
        devstack::drain(&self.clients, queue, count, wait)
            .await
            .unwrap()
    }

    /// Receives up to 10 messages from `queue` as the Lambda event source would
    /// (not deleted: the caller deletes what the batch response does not list).
    pub async fn receive_batch(
        &self,
        queue: &QueueInfo,
        visibility_seconds: i32,
    ) -> Vec<SqsMessage> {
        devstack::receive_batch(&self.clients, queue, Some(visibility_seconds))
            .await
            .unwrap()
    }

    /// Runs one batch through the worker handler, deleting the messages it did
    /// not report as failed (what the Lambda event source mapping does).
    pub async fn run_worker_batch(
        &self,
        worker: &WorkerService,
        queue: &QueueInfo,
        batch: Vec<SqsMessage>,
    ) -> SqsBatchResponse {
        devstack::run_worker_batch(worker, &self.clients, queue, batch)
            .await
            .unwrap()
    }

    /// A sample SQS event of `events/reprocessing-worker`, its records
    /// pointed at this stack's queues (the samples name the `local-` ones).
    pub fn sample_sqs_event(&self, file: &str) -> SqsEvent {
        let path = devstack::repo_root()
            .join("events/reprocessing-worker")
            .join(file);
        let mut event: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        devstack::retarget_sample_event(&mut event, &self.provisioned).unwrap();
        serde_json::from_value(event).unwrap()
    }
}

/// The template's HTTP API (its stage and routes), read once.
static HTTP_API: LazyLock<HttpApi> =
    LazyLock::new(|| HttpApi::repo_default().expect("template.yaml has its HttpApi"));

/// An API Gateway HTTP API (payload 2.0) request, as the function receives it
/// on the deployed stage, built by the local front's own builder. `path` is a
/// route's path with its query (`/v1/clearing-messages?status=PENDING`); the
/// stage goes in front of `rawPath`, and the route key and path parameters are
/// those of the template route it matches (`$default` when none does).
pub fn http_request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> lambda_http::Request {
    let api = &*HTTP_API;
    let mut request = HttpRequest::new(method, &api.url_path(path)).body(body);
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        request = request.header("host", "localhost");
    }
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let matched = api.resolve(method, &request.path);
    let event = payload(
        api.stage(),
        matched.as_ref(),
        &request,
        &Invocation::now("127.0.0.1"),
    );
    lambda_http::request::from_str(&event.to_string()).expect("valid API Gateway v2 event")
}

/// A signed webhook call.
pub fn signed_webhook(path: &str, body: &str) -> lambda_http::Request {
    let signature = sign(
        WEBHOOK_SECRET,
        chrono::Utc::now().timestamp(),
        body.as_bytes(),
    );
    http_request(
        "POST",
        path,
        &[
            ("content-type", "application/json"),
            ("x-webhook-signature", &signature),
        ],
        body,
    )
}

pub fn response_json(resp: &lambda_http::Response<lambda_http::Body>) -> serde_json::Value {
    let bytes: &[u8] = resp.body().as_ref();
    serde_json::from_slice(bytes).unwrap_or(serde_json::Value::Null)
}

/// The seed notification of the kit, verbatim.
pub const SEED_NOTIFICATION: &str =
    include_str!("../../spec/mastercard-clearing-notification.example.json");

/// An authorization notification for the seed clearing record.
pub fn seed_authorization(amount: &str, mcc: &str) -> String {
    authorization(
        "20240426O9EC2A",
        "47r45e73-7dwe-43f9-bk6b-5096F5reb5cd",
        amount,
        mcc,
    )
}

pub fn authorization(trans_uid: &str, card: &str, amount: &str, mcc: &str) -> String {
    format!(
        r#"{{"authorizations": [{{"transUid": "{trans_uid}", "cardReference": "{card}", "financialNetworkCode": "MCF",
            "referenceNumber": "REF{trans_uid}", "settlementDate": "2024-04-26", "transactionAmount": {amount},
            "transactionCurrency": "USD", "merchantCategoryCode": "{mcc}",
            "authorizationDateTime": "2024-04-24T16:00:00Z", "status": "APPROVED"}}]}}"#
    )
}

/// A valid clearing record (JSON object text) with the given identity and amount.
pub fn clearing_record(id: &str, trans_uid: &str, card: &str, amount: &str, mcc: &str) -> String {
    format!(
        r#"{{"cardReference": "{card}", "referenceNumber": "REF{trans_uid}", "transactionAmount": {amount},
            "transactionCurrency": "USD", "transactionLocalDate": "2024-04-24", "transactionLocalTime": "16:01:00",
            "settlementDate": "2024-04-26", "transactionType": "05", "merchantName": "CENTRA",
            "cardAcceptorCity": "NEW YORK", "cardAcceptorState": "NY", "merchantCountryCode": "USA",
            "merchantCategoryCode": "{mcc}", "acquirerId": "123456", "transUid": "{trans_uid}",
            "cardholderAmount": {amount}, "cardholderCurrency": "USD", "financialNetworkCode": "MCF",
            "processDate": "2024-04-25", "clearingUniqueId": "{id}", "functionCode": "200",
            "messageReasonCode": "1401", "banknetDate": "0424"}}"#
    )
}

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// A token as the identity provider would issue it.
pub fn operator_token(scope: &str) -> String {
    operator_token_for("ana", scope)
}

/// A token for the operator `sub` (the maker and checker tests mint two).
pub fn operator_token_for(sub: &str, scope: &str) -> String {
    mint_hs256(
        JWT_SECRET.as_bytes(),
        &Claims {
            sub: sub.into(),
            iss: JWT_ISSUER.into(),
            aud: JWT_AUDIENCE.into(),
            exp: chrono::Utc::now().timestamp() + 600,
            scope: scope.into(),
        },
    )
}

pub fn api_request(
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> lambda_http::Request {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(b) = &bearer {
        headers.push(("authorization", b.as_str()));
    }
    http_request(method, path, &headers, body)
}
