#!/usr/bin/env python3
"""Builds docs/openapi.json: the seed OpenAPI of POST /v1/clearing-reconciliation,
unchanged, plus the operator read endpoints. Run: python3 docs/make_openapi.py"""
import copy, json, pathlib

ROOT = pathlib.Path(__file__).resolve().parent
seed = json.loads((ROOT.parent / "spec/clearing-reconciliation.openapi.json").read_text())
doc = copy.deepcopy(seed)
doc["info"]["description"] += (
    ". Extended by this product with read endpoints for operators. Every error body is ErrorResponse with a "
    "code from the catalogue in README.md. POST /v1/clearing-reconciliation needs scope clearing:reconcile; "
    "the GET endpoints need clearing:read. 409 (BTN0401): no clearing message of that card is pending.")
doc["servers"].append({"url": "http://127.0.0.1:3000", "description": "local run (./dev.sh up)"})
s = doc["components"]["schemas"]
s["PendingReason"] = {"type": "object", "required": ["code", "detail"], "properties": {
    "code": {"type": "string", "enum": ["INVALID_FIELD", "AUTHORIZATION_NOT_FOUND", "AUTHORIZATION_NOT_APPROVED",
                                        "CARD_MISMATCH", "AMOUNT_DIVERGENT", "CURRENCY_MISMATCH", "DUPLICATE_PRESENTMENT"]},
    "detail": {"type": "string"},
    "fields": {"type": "array", "items": {"type": "object", "required": ["field", "problem"], "properties": {
        "field": {"type": "string"}, "problem": {"type": "string"}}}}}}
s["Transition"] = {"type": "object", "required": ["version", "to", "at", "actor"], "properties": {
    "version": {"type": "integer"}, "from": {"description": "previous status, null for the first transition"}, "to": {"type": "string"},
    "at": {"type": "string", "format": "date-time"}, "actor": {"type": "string"}, "reason": {"type": "string"},
    "pending_reason": {"$ref": "#/components/schemas/PendingReason"},
    "changes": {"type": "array", "items": {"type": "object", "required": ["field", "new_value"], "properties": {
        "field": {"type": "string"}, "old_value": {"type": "string"}, "new_value": {"type": "string"}}}},
    "request_id": {"type": "string"}}}
s["ClearingMessage"] = {"type": "object", "required": [
    "clearing_unique_id", "card_network", "status", "version", "fields", "raw_payload", "received_at", "updated_at", "history"],
    "properties": {
        "clearing_unique_id": {"type": "string"}, "card_network": {"type": "string"},
        "card_hash": {"description": "string, or null when the record carried no cardReference"},
        "status": {"type": "string", "enum": ["RECEIVED", "MATCHED", "PENDING", "REPROCESSING"]},
        "version": {"type": "integer"},
        "pending_reason": {"description": "PendingReason while PENDING, else null"},
        "fields": {"type": "object", "description": "the clearing record's fields as exact text",
                   "additionalProperties": {"type": "string"}},
        "raw_payload": {"type": "string", "description": "the record's JSON exactly as received"},
        "received_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "matched": {"description": "authorized/cleared amounts (decimal strings), difference and tolerance rule once MATCHED, else null"},
        "reprocessing": {"description": "the operator request being processed while REPROCESSING, else null"},
        "history": {"type": "array", "items": {"$ref": "#/components/schemas/Transition"}}}}
s["ClearingMessagePage"] = {"type": "object", "required": ["items"], "properties": {
    "items": {"type": "array", "items": {"$ref": "#/components/schemas/ClearingMessage"}},
    "next_cursor": {"description": "pass as cursor for the next page; null on the last page"}}}
s["ClearingSearchResponse"] = {"type": "object", "required": ["clearing"], "properties": {
    "clearing": {"type": "array", "items": {"$ref": "#/components/schemas/ClearingMessage"}},
    "nextClearingCursor": {"type": "string"}}}
errors = {c: {"$ref": f"#/components/responses/{r}"} for c, r in
          [("400", "400BadRequest"), ("401", "401Unauthorized"), ("403", "403Forbidden"), ("500", "500InternalServerError")]}
ok = lambda schema: {"description": "OK", "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}
q = lambda name, desc: {"name": name, "in": "query", "required": False, "schema": {"type": "string"}, "description": desc}
doc["paths"]["/v1/clearing-messages/{clearingUniqueId}"] = {"get": {
    "summary": "Read one clearing message", "operationId": "getClearingMessage",
    "description": "Raw payload, current state, pending reason and full history.",
    "security": [{"BearerAuth": []}],
    "parameters": [{"name": "clearingUniqueId", "in": "path", "required": True, "schema": {"type": "string"}}],
    "responses": {"200": ok("ClearingMessage"), **errors, "404": {"$ref": "#/components/responses/404NotFound"}}}}
doc["paths"]["/v1/clearing-messages"] = {"get": {
    "summary": "List clearing messages", "operationId": "listClearingMessages",
    "description": "By card (card_network with card_hash, optionally status), or all PENDING / REPROCESSING. Cursor pagination.",
    "security": [{"BearerAuth": []}],
    "parameters": [q("card_network", "e.g. MASTERCARD"), q("card_hash", "the card's hash (cardReference)"),
                   q("status", "RECEIVED, MATCHED, PENDING or REPROCESSING"), q("limit", "1 to 100, default 50"),
                   q("cursor", "next_cursor of the previous page")],
    "responses": {"200": ok("ClearingMessagePage"), **errors}}}
doc["paths"]["/v1/clearing-search"] = {"get": {
    "summary": "Search clearing records (Mastercard Clearing API forms)", "operationId": "searchClearing",
    "description": "Exactly one of: transUid; transactionStartDate with transactionEndDate (at most 366 days); "
                   "afterTransactionDate; cursor (\"0\" first, then nextClearingCursor). offset/limit paginate.",
    "security": [{"BearerAuth": []}],
    "parameters": [q("transUid", ""), q("transactionStartDate", "YYYY-MM-DD"), q("transactionEndDate", "YYYY-MM-DD"),
                   q("afterTransactionDate", "YYYY-MM-DD"), q("cursor", ""), q("offset", "default 0"),
                   q("limit", "1 to 500, default 100")],
    "responses": {"200": ok("ClearingSearchResponse"), **errors}}}
(ROOT / "openapi.json").write_text(json.dumps(doc, indent=2) + "\n")
