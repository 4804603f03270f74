//! The sample events of `events/`, made by the code that serves the local run:
//! the API Gateway ones by the local front's payload builder (named stage,
//! stage-prefixed path, the route key and path parameters of the template's
//! route), the SQS ones as the local queues deliver them, the outbox
//! publisher's and the expiry sweep's as [`invocations`] says. `devstack
//! sample-events` writes them; a test fails when the committed files differ.
//!
//! They are signed with the local-only settings of `local/local.env`: the
//! operator token (valid until 2100, worthless anywhere else) and the client
//! certificate subject the webhook accepts there.

use std::path::Path;

use serde_json::{json, Value};
use shared::config::Env;
use shared::webhook_auth::AllowedClients;

use crate::payload::{
    payload, ClientCert, HttpRequest, Invocation, LOCAL_ACCOUNT_ID, LOCAL_API_ID,
};
use crate::{mint_hs256, Claims, DevstackError, HttpApi, DEFAULT_REGION, SAMPLE_PREFIX};

/// One sample: its file under `events/`, its event.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub file: &'static str,
    pub event: Value,
}

const SEED_CARD: &str = "47r45e73-7dwe-43f9-bk6b-5096F5reb5cd";
const SEED_ID: &str = "202404261024009777553";
const SEED_NOTIFICATION: &str =
    include_str!("../../../spec/mastercard-clearing-notification.example.json");
const SEED_AUTHORIZATION: &str = r#"{
  "authorizations": [
    {
      "transUid": "20240426O9EC2A",
      "cardReference": "47r45e73-7dwe-43f9-bk6b-5096F5reb5cd",
      "financialNetworkCode": "MCF",
      "referenceNumber": "MCFO9EC2A",
      "settlementDate": "2024-04-26",
      "transactionAmount": 12.34,
      "transactionCurrency": "USD",
      "merchantCategoryCode": "4111",
      "authorizationDateTime": "2024-04-24T16:01:00Z",
      "status": "APPROVED"
    }
  ]
}"#;
const SEED_FIX: &str = r#"{
  "card_network": "MASTERCARD",
  "card_hash": "47r45e73-7dwe-43f9-bk6b-5096F5reb5cd",
  "reconciliation_reason": "transactionLocalDate had month and day swapped",
  "adjustments": [
    {
      "field": "transactionLocalDate",
      "new_value": "2024-04-24"
    }
  ]
}"#;

/// Every sample event, for `api` (the template's HTTP API) and the local `settings`.
pub fn sample_events(api: &HttpApi, settings: &Env) -> Result<Vec<Sample>, DevstackError> {
    let mut samples = http_samples(api, settings)?;
    samples.extend(sqs_samples());
    samples.extend(invocations::invocation_samples(
        &crate::Template::repo_default()?,
    )?);
    Ok(samples)
}

fn http_samples(api: &HttpApi, settings: &Env) -> Result<Vec<Sample>, DevstackError> {
    let webhook = |file, path, body| (file, "POST", path, body, true);
    let operator = |file, method, path, body| (file, method, path, body, false);
    let list_card = format!("/v1/clearing-messages?card_network=MASTERCARD&card_hash={SEED_CARD}");
    let message = format!("/v1/clearing-messages/{SEED_ID}");
    let requests = [
        webhook(
            "clearing-webhook/authorization-seed.json",
            "/v1/webhooks/mastercard/authorizations",
            SEED_AUTHORIZATION,
        ),
        webhook(
            "clearing-webhook/clearing-seed.json",
            "/v1/webhooks/mastercard/clearing",
            SEED_NOTIFICATION,
        ),
        operator(
            "reconciliation-api/reconcile-seed.json",
            "POST",
            "/v1/clearing-reconciliation",
            SEED_FIX,
        ),
        operator("reconciliation-api/get-message.json", "GET", &message, ""),
        operator(
            "reconciliation-api/list-pending.json",
            "GET",
            "/v1/clearing-messages?status=PENDING&limit=20",
            "",
        ),
        operator("reconciliation-api/list-card.json", "GET", &list_card, ""),
        operator(
            "reconciliation-api/search-cursor.json",
            "GET",
            "/v1/clearing-search?cursor=0&limit=100",
            "",
        ),
        operator(
            "reconciliation-api/search-trans-uid.json",
            "GET",
            "/v1/clearing-search?transUid=20240426O9EC2A",
            "",
        ),
    ];
    let bearer = format!("Bearer {}", sample_token(settings)?);
    let (network, backoffice) = (network_invocation(settings)?, backoffice_invocation());
    let host = format!("{LOCAL_API_ID}.execute-api.{DEFAULT_REGION}.amazonaws.com");
    requests
        .into_iter()
        .map(|(file, method, path, body, from_network)| {
            let mut request = HttpRequest::new(method, &api.url_path(path))
                .header("content-type", "application/json")
                .header("host", &host);
            request = if from_network {
                request.header("user-agent", "mastercard-clearing-notifier")
            } else {
                request
                    .header("authorization", &bearer)
                    .header("user-agent", "backoffice")
            };
            let request = request.body(body);
            let matched = api.resolve(method, &request.path).ok_or_else(|| {
                DevstackError::Sample(format!(
                    "{file}: {method} {path} is no route of the template"
                ))
            })?;
            let invocation = if from_network { &network } else { &backoffice };
            let event = payload(api.stage(), Some(&matched), &request, invocation);
            Ok(Sample { file, event })
        })
        .collect()
}

/// An operator token with both scopes for the local settings, valid until 2100.
fn sample_token(settings: &Env) -> Result<String, DevstackError> {
    let claims = Claims {
        sub: "dev-operator".into(),
        iss: settings.required("JWT_ISSUER")?,
        aud: settings.required("JWT_AUDIENCE")?,
        exp: 4_102_444_800,
        scope: "clearing:read clearing:reconcile".into(),
    };
    Ok(mint_hs256(
        settings.required("JWT_HS256_SECRET")?.as_bytes(),
        &claims,
    ))
}

fn fixed_invocation(source_ip: &str) -> Invocation {
    Invocation {
        account_id: LOCAL_ACCOUNT_ID.to_owned(),
        api_id: LOCAL_API_ID.to_owned(),
        request_id: "sample-request".to_owned(),
        time: chrono::DateTime::from_timestamp(1_795_341_600, 0).unwrap_or_default(),
        source_ip: source_ip.to_owned(),
        protocol: "HTTP/1.1".to_owned(),
        client_cert: None,
    }
}

fn backoffice_invocation() -> Invocation {
    fixed_invocation("198.51.100.20")
}

/// Mastercard through the mutual TLS custom domain: the first subject the local settings accept.
fn network_invocation(settings: &Env) -> Result<Invocation, DevstackError> {
    let allowed = AllowedClients::parse(&settings.required("MTLS_ALLOWED_SUBJECTS")?)
        .map_err(|e| DevstackError::Template(e.to_string()))?;
    let client = allowed
        .iter()
        .next()
        .ok_or_else(|| DevstackError::Template("MTLS_ALLOWED_SUBJECTS names no client".into()))?;
    Ok(Invocation {
        client_cert: Some(ClientCert {
            pem: "-----BEGIN CERTIFICATE-----\n(sample)\n-----END CERTIFICATE-----".into(),
            subject_dn: client.subject.clone(),
            issuer_dn: client.issuer.clone(),
            serial_number: "01".into(),
            not_before: "Jan 1 00:00:00 2026 GMT".into(),
            not_after: "Jan 1 00:00:00 2028 GMT".into(),
        }),
        ..fixed_invocation("203.0.113.10")
    })
}

/// SQS events as the worker's event source delivers them, from the queues of
/// the local stack under [`SAMPLE_PREFIX`] (the worker reads a record by its queue).
fn sqs_samples() -> Vec<Sample> {
    let job = json!({
        "request_id": "sample-request", "clearing_unique_id": SEED_ID, "card_network": "MASTERCARD",
        "card_hash": SEED_CARD,
        "adjustments": [{"field": "transactionLocalDate", "new_value": "2024-04-24"}],
        "reconciliation_reason": "transactionLocalDate had month and day swapped",
        "requested_by": "operator:dev-operator", "requested_at": "2026-11-22T10:00:00Z",
        "expected_version": 3
    });
    let e2e = "E4086716320220629204700103800548";
    vec![
        Sample {
            file: "reprocessing-worker/sqs-reprocessing-job.json",
            event: sqs_event("ReprocessingQueue", "000000000001", &job),
        },
        pix_sample(
            "reprocessing-worker/sqs-pix-transaction.json",
            "pix_transaction",
            json!({"transaction_id": "67c1c555-9f40-4eb1-bc20-621086cc3c98", "end_to_end_id": e2e,
                   "amount": "125.50", "authorization_id": 123,
                   "authorization_datetime": "2021-10-29T11:00:00.000Z", "business_date": "2021-10-29",
                   "kind": "PIX_OUT_TRANSFER"}),
        ),
        pix_sample(
            "reprocessing-worker/sqs-pix-provider-entry.json",
            "provider_settlement_entry",
            json!({"end_to_end_id": e2e, "provider_amount": "125.50",
                   "provider_authorization_id": "17579222", "business_date": "2021-10-29"}),
        ),
        pix_sample(
            "reprocessing-worker/sqs-pix-report-closed.json",
            "provider_report_closed",
            json!({"business_date": "2021-10-29", "entry_count": 1, "total_amount": "125.50"}),
        ),
    ]
}

/// A Pix input as the bus delivers it to `PixInputQueue` (an EventBridge envelope).
fn pix_sample(file: &'static str, detail_type: &str, detail: Value) -> Sample {
    let envelope = json!({
        "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": detail_type,
        "source": "pix.inputs", "account": LOCAL_ACCOUNT_ID, "time": "2021-10-29T11:00:00Z",
        "region": DEFAULT_REGION, "resources": [], "detail": detail
    });
    let id = format!("0000000000{:02}", detail_type.len());
    Sample {
        file,
        event: sqs_event("PixInputQueue", &id, &envelope),
    }
}

/// One record of `body` from the local queue `logical`.
fn sqs_event(logical: &str, id: &str, body: &Value) -> Value {
    json!({"Records": [{
        "messageId": format!("0b7a1c8e-0000-4000-8000-{id}"),
        "receiptHandle": "sample",
        "body": body.to_string(),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795341600000",
                       "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1795341600000"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": format!("arn:aws:sqs:{DEFAULT_REGION}:{LOCAL_ACCOUNT_ID}:{SAMPLE_PREFIX}{logical}"),
        "awsRegion": DEFAULT_REGION
    }]})
}

/// Writes `samples` under `dir` (pretty JSON, one file each).
pub fn write_samples(dir: &Path, samples: &[Sample]) -> Result<(), DevstackError> {
    for sample in samples {
        let path = dir.join(sample.file);
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(|source| DevstackError::Write {
                path: folder.to_owned(),
                source,
            })?;
        }
        let text = serde_json::to_string_pretty(&InOrder(&sample.event)).unwrap_or_default() + "\n";
        std::fs::write(&path, text).map_err(|source| DevstackError::Write { path, source })?;
    }
    Ok(())
}

/// A payload's fields in the order of the AWS documentation's example, the
/// others after them (sorted), so a sample reads as the documentation does.
struct InOrder<'a>(&'a Value);

const FIELD_ORDER: [&str; 11] = [
    "version",
    "routeKey",
    "rawPath",
    "rawQueryString",
    "cookies",
    "headers",
    "queryStringParameters",
    "requestContext",
    "body",
    "pathParameters",
    "isBase64Encoded",
];

impl serde::Serialize for InOrder<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Value::Object(fields) = self.0 else {
            return self.0.serialize(serializer);
        };
        let rank = |name: &str| FIELD_ORDER.iter().position(|f| *f == name);
        let mut fields: Vec<(&String, &Value)> = fields.iter().collect();
        fields.sort_by_key(|(name, _)| rank(name).unwrap_or(FIELD_ORDER.len()));
        let mut map = serializer.serialize_map(Some(fields.len()))?;
        for (name, value) in fields {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// The samples whose file under `dir` is missing or holds another event.
pub fn stale_samples<'a>(dir: &Path, samples: &'a [Sample]) -> Vec<&'a str> {
    samples
        .iter()
        .filter(|s| {
            let on_disk = std::fs::read_to_string(dir.join(s.file))
                .ok()
                .and_then(|text| serde_json::from_str::<Value>(&text).ok());
            on_disk.as_ref() != Some(&s.event)
        })
        .map(|s| s.file)
        .collect()
}

pub mod invocations;

#[cfg(test)]
mod tests;
