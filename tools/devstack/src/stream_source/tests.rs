//! The mapping's retry rules on a function that fails as told (no AWS call:
//! no on-failure queue is configured here).

use std::sync::Mutex;

use aws_lambda_events::event::streams::DynamoDbBatchItemFailure;

use super::*;

/// Answers each invocation with the next scripted answer (then success),
/// and remembers the sequence numbers of every batch it saw.
struct Scripted {
    answers: Mutex<VecDeque<Result<Vec<&'static str>, String>>>,
    seen: Mutex<Vec<Vec<String>>>,
}

#[async_trait]
impl StreamFunction for Scripted {
    async fn invoke(&self, event: Event) -> Result<DynamoDbEventResponse, String> {
        let batch = event
            .records
            .iter()
            .filter_map(|r| r.change.sequence_number.clone())
            .collect();
        self.seen.lock().unwrap().push(batch);
        let answer = self
            .answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Ok(vec![]));
        answer.map(|failed| {
            let mut response = DynamoDbEventResponse::default();
            for id in failed {
                let mut f = DynamoDbBatchItemFailure::default();
                f.item_identifier = Some(id.to_owned());
                response.batch_item_failures.push(f);
            }
            response
        })
    }
}

fn records(n: usize) -> Vec<Value> {
    (1..=n)
        .map(|i| {
            json!({"eventID": i.to_string(), "eventName": "INSERT", "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1", "dynamodb": {"SequenceNumber": i.to_string(), "SizeBytes": 1,
            "Keys": {"pk": {"S": "x"}}, "NewImage": {"pk": {"S": "x"}}}})
        })
        .collect()
}

async fn pump(
    answers: Vec<Result<Vec<&'static str>, String>>,
    retries: Option<u32>,
) -> (StreamPump, Arc<Scripted>) {
    let function = Arc::new(Scripted {
        answers: Mutex::new(answers.into()),
        seen: Mutex::new(Vec::new()),
    });
    let clients = LocalClients::new().await;
    let streams = aws_sdk_dynamodbstreams::Client::new(&clients.sdk);
    let spec = StreamSourceSpec {
        function: "F".into(),
        table: "T".into(),
        starting_position: StartingPosition::TrimHorizon,
        batch_size: 100,
        report_batch_item_failures: true,
        bisect_on_error: true,
        maximum_retry_attempts: retries,
        on_failure_queue: None,
    };
    let pump = StreamPump {
        streams,
        clients,
        spec,
        stream_arn: "arn:stream".into(),
        on_failure: None,
        function: function.clone(),
        shards: BTreeMap::new(),
        started: false,
        stats: PumpStats::default(),
    };
    (pump, function)
}

fn seen(f: &Scripted) -> Vec<Vec<String>> {
    f.seen.lock().unwrap().clone()
}

#[tokio::test]
async fn a_reported_failure_retries_from_its_sequence_number() {
    let (mut pump, f) = pump(vec![Ok(vec!["3", "2"])], Some(2)).await;
    pump.deliver("s", records(4)).await.unwrap();
    // The lowest sequence number reported is the checkpoint: 1 is not re-run.
    assert_eq!(seen(&f), [vec!["1", "2", "3", "4"], vec!["2", "3", "4"]]);
    assert_eq!(pump.stats.retries, 1);
}

#[tokio::test]
async fn a_function_error_bisects_without_using_a_retry() {
    let (mut pump, f) = pump(vec![Err("crash".into())], Some(0)).await;
    pump.deliver("s", records(4)).await.unwrap();
    assert_eq!(
        seen(&f),
        [vec!["1", "2", "3", "4"], vec!["1", "2"], vec!["3", "4"]]
    );
    assert_eq!((pump.stats.bisections, pump.stats.given_up), (1, 0));
}

#[tokio::test]
async fn an_unknown_identifier_fails_the_whole_batch_and_retries_run_out() {
    let answers = vec![
        Ok(vec!["nope"]),
        Ok(vec!["1"]),
        Ok(vec!["1"]),
        Ok(vec!["1"]),
    ];
    let (mut pump, f) = pump(answers, Some(2)).await;
    pump.deliver("s", records(1)).await.unwrap();
    // One invocation and two retries, then the batch is given up and the shard moves on.
    assert_eq!(seen(&f).len(), 3);
    assert_eq!(pump.stats.given_up, 1);
}
