#!/usr/bin/env python3
"""Writes the sample events of the reconciliation API and the worker.

The API samples carry a Bearer token signed with the *local development*
settings of local/local.env (JWT_HS256_SECRET, JWT_ISSUER, JWT_AUDIENCE, also
used by ./dev.sh up and ./dev.sh lambda); it is valid until 2100 and worthless
anywhere else. The worker samples name the queues the local stack gives the
prefix `local-` (the worker reads a record by its eventSourceARN).
Run: python3 events/make_samples.py
"""
import base64, hashlib, hmac, json, pathlib

ROOT = pathlib.Path(__file__).resolve().parent


def local_settings():
    """KEY=value lines of local/local.env (comments and blank lines skipped)."""
    settings = {}
    for line in (ROOT.parent / "local" / "local.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings[key.strip()] = value.strip()
    return settings


LOCAL = local_settings()
LOCAL_DEV_JWT_SECRET = LOCAL["JWT_HS256_SECRET"].encode()
ISSUER, AUDIENCE = LOCAL["JWT_ISSUER"], LOCAL["JWT_AUDIENCE"]
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:local-{}"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(scope: str) -> str:
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = b64(json.dumps({"sub": "dev-operator", "iss": ISSUER, "aud": AUDIENCE, "exp": 4102444800,
                             "scope": scope}, separators=(",", ":")).encode())
    signing_input = f"{header}.{claims}".encode()
    return f"{header}.{claims}.{b64(hmac.new(LOCAL_DEV_JWT_SECRET, signing_input, hashlib.sha256).digest())}"


def http_event(method, path, query="", body=None, route=None, path_parameters=None):
    params = dict(kv.split("=", 1) for kv in query.split("&") if "=" in kv)
    event = {
        "version": "2.0", "routeKey": route or f"{method} {path}", "rawPath": path, "rawQueryString": query,
        "headers": {"authorization": "Bearer " + token("clearing:read clearing:reconcile"),
                    "content-type": "application/json", "host": "localhost"},
        "requestContext": {"accountId": "123456789012", "apiId": "local", "domainName": "localhost",
                           "domainPrefix": "localhost",
                           "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                                    "sourceIp": "127.0.0.1", "userAgent": "backoffice"},
                           "requestId": "sample-request", "routeKey": route or f"{method} {path}",
                           "stage": "$default", "time": "22/Nov/2026:10:00:00 +0000", "timeEpoch": 1795000000000},
        "isBase64Encoded": False,
    }
    if params:
        event["queryStringParameters"] = params
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body is not None:
        event["body"] = json.dumps(body, indent=2)
    return event


def write(name, event):
    (ROOT / name).write_text(json.dumps(event, indent=2) + "\n")


write("reconciliation-api/reconcile-seed.json", http_event("POST", "/v1/clearing-reconciliation", body={
    "card_network": "MASTERCARD", "card_hash": "47r45e73-7dwe-43f9-bk6b-5096F5reb5cd",
    "reconciliation_reason": "transactionLocalDate had month and day swapped",
    "adjustments": [{"field": "transactionLocalDate", "new_value": "2024-04-24"}]}))
write("reconciliation-api/get-message.json", http_event(
    "GET", "/v1/clearing-messages/202404261024009777553", route="GET /v1/clearing-messages/{clearingUniqueId}",
    path_parameters={"clearingUniqueId": "202404261024009777553"}))
write("reconciliation-api/list-pending.json", http_event("GET", "/v1/clearing-messages", "status=PENDING&limit=20"))
write("reconciliation-api/list-card.json", http_event(
    "GET", "/v1/clearing-messages", "card_network=MASTERCARD&card_hash=47r45e73-7dwe-43f9-bk6b-5096F5reb5cd"))
write("reconciliation-api/search-cursor.json", http_event("GET", "/v1/clearing-search", "cursor=0&limit=100"))
write("reconciliation-api/search-trans-uid.json", http_event("GET", "/v1/clearing-search", "transUid=20240426O9EC2A"))

job = {"request_id": "sample-request", "clearing_unique_id": "202404261024009777553", "card_network": "MASTERCARD",
       "card_hash": "47r45e73-7dwe-43f9-bk6b-5096F5reb5cd",
       "adjustments": [{"field": "transactionLocalDate", "new_value": "2024-04-24"}],
       "reconciliation_reason": "transactionLocalDate had month and day swapped",
       "requested_by": "operator:dev-operator", "requested_at": "2026-11-22T10:00:00Z", "expected_version": 3}
write("reprocessing-worker/sqs-reprocessing-job.json", {"Records": [{
    "messageId": "0b7a1c8e-0000-4000-8000-000000000001", "receiptHandle": "sample", "body": json.dumps(job),
    "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795000000000",
                   "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1795000000000"},
    "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
    "eventSourceARN": QUEUE_ARN.format("ReprocessingQueue"), "awsRegion": "us-east-1"}]})


def pix_sqs(detail_type, detail):
    envelope = {"version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": detail_type,
                "source": "pix.inputs", "account": "123456789012", "time": "2021-10-29T11:00:00Z",
                "region": "us-east-1", "resources": [], "detail": detail}
    return {"Records": [{
        "messageId": "0b7a1c8e-0000-4000-8000-0000000000" + str(len(detail_type)), "receiptHandle": "sample",
        "body": json.dumps(envelope), "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN.format("PixInputQueue"), "awsRegion": "us-east-1"}]}


E2E = "E4086716320220629204700103800548"
write("reprocessing-worker/sqs-pix-transaction.json", pix_sqs("pix_transaction", {
    "transaction_id": "67c1c555-9f40-4eb1-bc20-621086cc3c98", "end_to_end_id": E2E, "amount": "125.50",
    "authorization_id": 123, "authorization_datetime": "2021-10-29T11:00:00.000Z", "business_date": "2021-10-29",
    "kind": "PIX_OUT_TRANSFER"}))
write("reprocessing-worker/sqs-pix-provider-entry.json", pix_sqs("provider_settlement_entry", {
    "end_to_end_id": E2E, "provider_amount": "125.50", "provider_authorization_id": "17579222",
    "business_date": "2021-10-29"}))
write("reprocessing-worker/sqs-pix-report-closed.json", pix_sqs("provider_report_closed", {"business_date": "2021-10-29"}))
