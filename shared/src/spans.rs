//! The spans that carry a request's ids. The JSON log formatter writes the
//! fields of every span a line is in (`spans`), so each log line of a request
//! names what it is about, and one id finds them all in CloudWatch Logs
//! Insights. Inside the Lambda runtime's own span (`requestId`, `xrayTraceId`):
//!
//! | span | fields |
//! | --- | --- |
//! | `http_request` | `api_request_id` (API Gateway `requestContext.requestId`), `method`, `path` |
//! | `sqs_message` | `sqs_message_id` |
//! | `clearing_record` | `clearing_unique_id` |
//! | `reconciliation` | `reconciliation_request_id` |
//! | `reconciliation_job` | `reconciliation_request_id`, `clearing_unique_id` |
//! | `pix_input` | `end_to_end_id` |
//! | `pix_day_close` | `business_date` |

use tracing::{info_span, Span};

/// One HTTP call, by API Gateway's request id (what the caller and the
/// API's access log know it by).
#[cfg(feature = "http")]
pub fn http_request(request: &lambda_http::Request) -> Span {
    use lambda_http::request::RequestContext;
    use lambda_http::RequestExt;
    let api_request_id = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.as_deref(),
        _ => None,
    };
    info_span!(
        "http_request",
        api_request_id = api_request_id.unwrap_or(""),
        method = %request.method(),
        path = request.uri().path(),
    )
}

/// One SQS message of a batch.
pub fn sqs_message(message_id: &str) -> Span {
    info_span!("sqs_message", sqs_message_id = message_id)
}

/// One clearing record of a notification.
pub fn clearing_record(clearing_unique_id: &str) -> Span {
    info_span!("clearing_record", clearing_unique_id)
}

/// An operator's reconciliation request, once it has its id.
pub fn reconciliation(request_id: &str) -> Span {
    info_span!("reconciliation", reconciliation_request_id = request_id)
}

/// One reprocessing job: a request applied to one clearing message.
pub fn reconciliation_job(request_id: &str, clearing_unique_id: &str) -> Span {
    info_span!(
        "reconciliation_job",
        reconciliation_request_id = request_id,
        clearing_unique_id
    )
}

/// One Pix reconciliation, by its `end_to_end_id`.
pub fn pix_input(end_to_end_id: &str) -> Span {
    info_span!("pix_input", end_to_end_id)
}

/// The provider's report for a business day closing.
pub fn pix_day_close(business_date: &str) -> Span {
    info_span!("pix_day_close", business_date)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use tracing::Instrument;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn every_line_carries_the_ids_of_its_spans() {
        let captured = Captured::default();
        let writer = captured.clone();
        // The formatter `init_tracing` installs, writing here instead of stdout.
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .without_time()
            .with_target(false)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        // A span's parent is the span current where it is created.
        async {
            async { tracing::info!("job applied") }
                .instrument(super::reconciliation_job("req-1", "CLR-1"))
                .await
        }
        .instrument(super::sqs_message("msg-1"))
        .await;

        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["fields"]["message"], "job applied");
        assert_eq!(line["spans"][0]["sqs_message_id"], "msg-1", "{line}");
        assert_eq!(line["spans"][1]["reconciliation_request_id"], "req-1");
        assert_eq!(line["spans"][1]["clearing_unique_id"], "CLR-1");
    }
}
