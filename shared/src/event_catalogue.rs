//! Every event detail-type this product can emit, with when it is emitted and
//! the sample EventBridge rule a consuming team would start from.
//! `docs/events.md` is rendered from this list (a test fails when the
//! committed file differs), with an example of each made by the code that
//! emits it (`event_catalogue/examples_tests.rs`; a test fails when one is
//! missing), and the constructors' tests check that each detail-type they can
//! produce is listed here.

use crate::events::*;
use crate::pix::event::{EVENT_DETAIL_TYPE as PIX_FINANCIAL_RECONCILIATION, EVENT_SOURCE as PIX};

/// Detail-types the reprocessing worker announces for inputs it can never read.
pub const PIX_INPUT_REJECTED: &str = "pix_input.rejected";
pub const JOB_REJECTED: &str = "reprocessing_job.rejected";

/// One documented detail-type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentedEvent {
    pub source: &'static str,
    pub detail_type: &'static str,
    pub when: &'static str,
}

const fn clearing(detail_type: &'static str, when: &'static str) -> DocumentedEvent {
    DocumentedEvent {
        source: CLEARING_EVENT_SOURCE,
        detail_type,
        when,
    }
}

pub const ALL_EVENTS: &[DocumentedEvent] = &[
    clearing(CLEARING_MATCHED, "a record matched on arrival"),
    clearing(CLEARING_PENDING, "a record is pending, with `detail.pending_reason`"),
    clearing(CLEARING_RECONCILED, "a pending record matched after reprocessing"),
    clearing(CLEARING_RECORD_CONFLICT, "a record refused because different content is stored under its id"),
    clearing(CLEARING_RECORDED, "a record that is not a purchase: a dispute step linked to its first presentment, or a fee collection; `detail.lifecycle`"),
    clearing(CLEARING_FORCE_POSTED, "a record marked not previously authorized (DE25 1400) posted by rule"),
    clearing(CLEARING_DISPUTED, "a first presentment moved through the dispute lifecycle; `detail.disputes` lists its steps"),
    clearing(CLEARING_FORCE_MATCH, "an operator matched a record by hand"),
    clearing(CLEARING_UNDO_MATCH, "an operator undid a match"),
    clearing(CLEARING_WRITE_OFF_REQUESTED, "an operator (maker) requested a write-off"),
    clearing(CLEARING_WRITE_OFF_APPROVED, "a second operator (checker) approved a write-off"),
    clearing(CLEARING_WRITE_OFF_REJECTED, "a second operator (checker) rejected a write-off"),
    clearing(RULES_CHANGED, "a new version of the matching rules: `detail.version`, `author`, `changed_at`, `reason`, `rules`"),
    clearing(AUTHORIZATION_EXPIRED, "an approved authorization not cleared in full within its window; `detail.expiry`"),
    clearing(AUTHORIZATION_REVERSED, "an authorization reversed in full (nothing left to clear)"),
    clearing(AUTHORIZATION_PARTIALLY_REVERSED, "part of an authorization reversed"),
    clearing(CLEARING_AUTHORIZATION_REVERSED, "an authorization was reversed (in full or part) after a first presentment matched it; `detail.matched_clearing` names that clearing"),
    clearing(JOB_REJECTED, "a reprocessing job body that can never be read, with the reason"),
    DocumentedEvent {
        source: PIX,
        detail_type: PIX_FINANCIAL_RECONCILIATION,
        when: "one per Pix transaction (end-to-end id), with its result",
    },
    DocumentedEvent {
        source: PIX,
        detail_type: PIX_INPUT_REJECTED,
        when: "a Pix input that can never be read, with the reason",
    },
];

/// The documented event of `source` and `detail_type`, if any.
pub fn documented(source: &str, detail_type: &str) -> Option<&'static DocumentedEvent> {
    ALL_EVENTS
        .iter()
        .find(|e| e.source == source && e.detail_type == detail_type)
}

impl DocumentedEvent {
    /// The sample rule's event pattern: this detail-type from this source.
    pub fn rule(&self) -> serde_json::Value {
        serde_json::json!({"source": [self.source], "detail-type": [self.detail_type]})
    }
}

/// The fields a rule sees of the PutEvents entry the bus adapter makes of `event`.
pub fn envelope(event: &OutboundEvent) -> serde_json::Value {
    let entry = crate::adapters::eventbridge::put_events_entry("ReconciliationBus", event);
    let detail = entry
        .detail()
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or(serde_json::Value::Null);
    serde_json::json!({
        "source": entry.source(),
        "detail-type": entry.detail_type(),
        "resources": entry.resources(),
        "detail": detail,
    })
}

/// `docs/events.md`, rendered, with the `examples` the code produced.
pub fn render_markdown(examples: &[OutboundEvent]) -> String {
    let mut out = String::from(concat!(
        "# Events\n\n",
        "Every detail-type this product publishes on its bus (`ReconciliationBus`),\n",
        "rendered from `shared/src/event_catalogue.rs` (`cargo test -p shared --lib\n",
        "event_catalogue` fails when this file differs; `UPDATE_EVENT_DOCS=1` rewrites it).\n",
        "Each entry's `resources[0]` is `urn:clearing-reconciliation:event:<uuid>`, a\n",
        "stable id: subscribers dedupe on it. The `detail` fields are described in the\n",
        "README's Events section.\n\n",
        "Every example is made by the code that emits it\n",
        "(`shared/src/event_catalogue/examples_tests.rs`): the use case's domain value,\n",
        "the constructor it calls, the outbox entry it stores read back as the\n",
        "publisher reads it, and the PutEvents entry the bus adapter sends. Each\n",
        "sample rule is checked to select its example and no other.\n\n",
        "| source | detail-type | when |\n| --- | --- | --- |\n",
    ));
    for e in ALL_EVENTS {
        out.push_str(&format!(
            "| `{}` | `{}` | {} |\n",
            e.source, e.detail_type, e.when
        ));
    }
    for e in ALL_EVENTS {
        out.push_str(&format!(
            "\n## `{}` / `{}`\n\n{}.\n\nSample rule:\n\n```json\n{}\n```\n",
            e.source,
            e.detail_type,
            e.when,
            e.rule()
        ));
        let example = examples
            .iter()
            .find(|x| x.source == e.source && x.detail_type == e.detail_type);
        if let Some(example) = example {
            let text = serde_json::to_string_pretty(&envelope(example)).unwrap_or_default();
            out.push_str(&format!("\nExample:\n\n```json\n{text}\n```\n"));
        }
    }
    out
}

#[cfg(test)]
mod examples_tests;
#[cfg(test)]
mod tests;
