//! A table's stream read as Lambda's DynamoDB event source mapping reads it,
//! for the local runner and the tests (DynamoDB Local serves DynamoDB Streams).
//! What it does, as the AWS documentation describes the mapping
//! (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html,
//! https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html,
//! https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html):
//!
//! - every shard of the stream (DescribeStream, paged), a child shard only
//!   once its parent is read to its end (records of an item stay in order);
//! - a shard found at start read from `StartingPosition` (TRIM_HORIZON or
//!   LATEST), a shard found later from its beginning, then from the sequence
//!   number after the last record done (GetShardIterator, GetRecords up to
//!   `BatchSize` records);
//! - the event is the one Lambda sends (`aws_lambda_events`' type);
//! - with `ReportBatchItemFailures`, an empty or absent `batchItemFailures` is
//!   success; otherwise the batch is retried from the lowest sequence number
//!   reported, and an identifier that is empty or not in the batch fails the
//!   whole batch; without it, the response is ignored;
//! - a function error retries the batch; with `BisectBatchOnFunctionError`
//!   it is split in two first (a split does not count as a retry);
//! - after `MaximumRetryAttempts` retries (-1: until the records expire) the
//!   batch's description (shard, first and last sequence numbers) goes to the
//!   `OnFailure` destination and the shard moves on.

mod records;
mod spec;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use serde_json::{json, Value};

pub use spec::{StartingPosition, StreamSourceSpec};

use crate::{DevstackError, LocalClients, Provisioned, QueueInfo};

/// The function a stream feeds: its handler, or an error as Lambda sees a
/// function error (crash, timeout, unhandled error).
#[async_trait]
pub trait StreamFunction: Send + Sync {
    async fn invoke(&self, event: Event) -> Result<DynamoDbEventResponse, String>;
}

#[async_trait]
impl StreamFunction for outbox_publisher::PublisherService {
    async fn invoke(&self, event: Event) -> Result<DynamoDbEventResponse, String> {
        let event = lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default());
        outbox_publisher::handle(self, event)
            .await
            .map_err(|e| e.to_string())
    }
}

/// What the mapping did, for tests and the runner's log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PumpStats {
    pub invocations: u64,
    pub retries: u64,
    pub bisections: u64,
    /// Records whose batch went to the on-failure destination.
    pub given_up: u64,
}

#[derive(Debug, Default)]
struct ShardState {
    parent: Option<String>,
    iterator: Option<String>,
    last_sequence: Option<String>,
    /// Found when the pump started: read from the mapping's starting position.
    initial: bool,
    done: bool,
}

enum Outcome {
    Done,
    FailedFrom(usize),
    Error(String),
}

pub struct StreamPump {
    streams: aws_sdk_dynamodbstreams::Client,
    clients: LocalClients,
    spec: StreamSourceSpec,
    stream_arn: String,
    on_failure: Option<QueueInfo>,
    function: Arc<dyn StreamFunction>,
    shards: BTreeMap<String, ShardState>,
    started: bool,
    pub stats: PumpStats,
}

impl StreamPump {
    /// The mapping of `spec` on the provisioned stack, feeding `function`.
    pub async fn new(
        clients: &LocalClients,
        provisioned: &Provisioned,
        spec: StreamSourceSpec,
        function: Arc<dyn StreamFunction>,
    ) -> Result<Self, DevstackError> {
        let table = provisioned.table(&spec.table)?.to_owned();
        let described = clients
            .dynamodb
            .describe_table()
            .table_name(&table)
            .send()
            .await
            .map_err(|e| clients.aws_error("dynamodb", "DescribeTable", &table, e))?;
        let stream_arn = described
            .table()
            .and_then(|t| t.latest_stream_arn())
            .ok_or_else(|| DevstackError::Template(format!("{table} has no stream enabled")))?
            .to_owned();
        let on_failure = spec
            .on_failure_queue
            .as_deref()
            .map(|q| provisioned.queue(q).cloned())
            .transpose()?;
        let streams = aws_sdk_dynamodbstreams::Client::from_conf(
            aws_sdk_dynamodbstreams::config::Builder::from(&clients.sdk)
                .endpoint_url(&clients.endpoints.dynamodb)
                .build(),
        );
        Ok(Self {
            streams,
            clients: clients.clone(),
            spec,
            stream_arn,
            on_failure,
            function,
            shards: BTreeMap::new(),
            started: false,
            stats: PumpStats::default(),
        })
    }

    /// Reads every readable shard once; the number of records handed on.
    pub async fn poll(&mut self) -> Result<usize, DevstackError> {
        self.discover_shards().await?;
        let ids: Vec<String> = self.shards.keys().cloned().collect();
        let mut delivered = 0;
        for id in ids {
            let ready = match self.shards.get(&id) {
                Some(s) if !s.done => s
                    .parent
                    .as_ref()
                    .and_then(|p| self.shards.get(p))
                    .is_none_or(|p| p.done),
                _ => false,
            };
            if ready {
                delivered += self.poll_shard(&id).await?;
            }
        }
        Ok(delivered)
    }

    /// Polls until `stop` resolves (the runner, the tests' background publisher).
    pub async fn run(mut self) {
        loop {
            match self.poll().await {
                Ok(0) => tokio::time::sleep(Duration::from_millis(100)).await,
                Ok(_) => {}
                Err(e) => {
                    eprintln!("stream {}: {e}", self.spec.function);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    async fn discover_shards(&mut self) -> Result<(), DevstackError> {
        let mut start: Option<String> = None;
        loop {
            let out = self
                .streams
                .describe_stream()
                .stream_arn(&self.stream_arn)
                .set_exclusive_start_shard_id(start.clone())
                .send()
                .await
                .map_err(|e| {
                    self.clients
                        .aws_error("dynamodb", "DescribeStream", &self.stream_arn, e)
                })?;
            let Some(description) = out.stream_description() else {
                break;
            };
            for shard in description.shards() {
                let Some(id) = shard.shard_id() else { continue };
                self.shards.entry(id.to_owned()).or_insert(ShardState {
                    parent: shard.parent_shard_id().map(str::to_owned),
                    initial: !self.started,
                    ..ShardState::default()
                });
            }
            start = description.last_evaluated_shard_id().map(str::to_owned);
            if start.is_none() {
                break;
            }
        }
        self.started = true;
        Ok(())
    }

    async fn iterator(
        &self,
        id: &str,
        state: &ShardState,
    ) -> Result<Option<String>, DevstackError> {
        let request = self
            .streams
            .get_shard_iterator()
            .stream_arn(&self.stream_arn)
            .shard_id(id);
        let request = match (
            &state.last_sequence,
            state.initial,
            self.spec.starting_position,
        ) {
            (Some(seq), _, _) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(seq),
            (None, true, StartingPosition::Latest) => {
                request.shard_iterator_type(ShardIteratorType::Latest)
            }
            (None, _, _) => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        let out = request.send().await.map_err(|e| {
            self.clients
                .aws_error("dynamodb", "GetShardIterator", id, e)
        })?;
        Ok(out.shard_iterator().map(str::to_owned))
    }

    async fn poll_shard(&mut self, id: &str) -> Result<usize, DevstackError> {
        let Some(state) = self.shards.remove(id) else {
            return Ok(0);
        };
        let result = self.read_shard(id, state).await;
        let (state, outcome) = result;
        self.shards.insert(id.to_owned(), state);
        outcome
    }

    async fn read_shard(
        &mut self,
        id: &str,
        mut state: ShardState,
    ) -> (ShardState, Result<usize, DevstackError>) {
        let iterator = match state.iterator.take() {
            Some(it) => it,
            None => match self.iterator(id, &state).await {
                Ok(Some(it)) => it,
                Ok(None) => {
                    state.done = true;
                    return (state, Ok(0));
                }
                Err(e) => return (state, Err(e)),
            },
        };
        let out = match self
            .streams
            .get_records()
            .shard_iterator(iterator)
            .limit(self.spec.batch_size)
            .send()
            .await
        {
            Ok(out) => out,
            // An expired or trimmed iterator: a new one from the last record done.
            Err(e) if e.as_service_error().is_some() => return (state, Ok(0)),
            Err(e) => {
                return (
                    state,
                    Err(self.clients.aws_error("dynamodb", "GetRecords", id, e)),
                )
            }
        };
        let region = self
            .clients
            .sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default();
        let records: Vec<Value> = out
            .records()
            .iter()
            .map(|r| records::record_json(r, &self.stream_arn, &region))
            .collect();
        if let Err(e) = self.deliver(id, records.clone()).await {
            // Not handed on: read again from the last record done.
            return (state, Err(e));
        }
        if let Some(last) = out
            .records()
            .last()
            .and_then(|r| r.dynamodb())
            .and_then(|d| d.sequence_number())
        {
            state.last_sequence = Some(last.to_owned());
        }
        state.iterator = out.next_shard_iterator().map(str::to_owned);
        // A closed shard read to its end has no next iterator.
        state.done = state.iterator.is_none();
        (state, Ok(records.len()))
    }

    /// Hands `records` to the function until each is done or given up.
    async fn deliver(&mut self, shard: &str, records: Vec<Value>) -> Result<(), DevstackError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut pending: VecDeque<(Vec<Value>, u32)> = VecDeque::from([(records, 0)]);
        while let Some((batch, retries)) = pending.pop_front() {
            if retries > 0 {
                tokio::time::sleep(Duration::from_millis(50 * u64::from(retries.min(10)))).await;
            }
            self.stats.invocations += 1;
            let exhausted = self
                .spec
                .maximum_retry_attempts
                .is_some_and(|m| retries >= m);
            match self.invoke(&batch).await? {
                Outcome::Done => {}
                Outcome::FailedFrom(i) => {
                    let rest = batch[i..].to_vec();
                    if exhausted {
                        self.give_up(shard, &rest, retries, "partial batch failure")
                            .await?;
                    } else {
                        self.stats.retries += 1;
                        pending.push_front((rest, retries + 1));
                    }
                }
                Outcome::Error(why) if self.spec.bisect_on_error && batch.len() > 1 => {
                    // Documented: a split does not count towards the retry quota.
                    self.stats.bisections += 1;
                    let (a, b) = batch.split_at(batch.len() / 2);
                    pending.push_front((b.to_vec(), retries));
                    pending.push_front((a.to_vec(), retries));
                    tracing::debug!(why, "batch bisected");
                }
                Outcome::Error(why) if exhausted => {
                    self.give_up(shard, &batch, retries, &why).await?
                }
                Outcome::Error(_) => {
                    self.stats.retries += 1;
                    pending.push_front((batch, retries + 1));
                }
            }
        }
        Ok(())
    }

    async fn invoke(&self, batch: &[Value]) -> Result<Outcome, DevstackError> {
        let event = records::event(batch)?;
        let sequences: Vec<Option<String>> = event
            .records
            .iter()
            .map(|r| records::sequence_number(r).map(str::to_owned))
            .collect();
        let response = match self.function.invoke(event).await {
            Ok(r) => r,
            Err(e) => return Ok(Outcome::Error(e)),
        };
        if !self.spec.report_batch_item_failures || response.batch_item_failures.is_empty() {
            return Ok(Outcome::Done);
        }
        let mut lowest: Option<usize> = None;
        for failure in &response.batch_item_failures {
            let found = failure
                .item_identifier
                .as_deref()
                .filter(|id| !id.is_empty())
                .and_then(|id| sequences.iter().position(|s| s.as_deref() == Some(id)));
            match found {
                Some(i) => lowest = Some(lowest.map_or(i, |l| l.min(i))),
                None => {
                    return Ok(Outcome::Error(
                        "invalid itemIdentifier in batchItemFailures".into(),
                    ))
                }
            }
        }
        Ok(lowest.map_or(Outcome::Done, Outcome::FailedFrom))
    }

    /// The invocation record Lambda sends an on-failure destination for a stream batch.
    async fn give_up(
        &mut self,
        shard: &str,
        batch: &[Value],
        retries: u32,
        why: &str,
    ) -> Result<(), DevstackError> {
        self.stats.given_up += batch.len() as u64;
        let seq = |r: Option<&Value>| r.map(|r| r["dynamodb"]["SequenceNumber"].clone());
        let message = json!({
            "requestContext": {
                "requestId": uuid::Uuid::new_v4().to_string(),
                "functionArn": format!("local:function:{}", self.spec.function),
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": retries + 1,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": why},
            "version": "1.0",
            "timestamp": chrono::Utc::now().to_rfc3339(),
            "DDBStreamBatchInfo": {
                "shardId": shard,
                "startSequenceNumber": seq(batch.first()),
                "endSequenceNumber": seq(batch.last()),
                "batchSize": batch.len(),
                "streamArn": self.stream_arn,
            },
        });
        eprintln!(
            "stream {}: batch given up after {retries} retries: {why}",
            self.spec.function
        );
        let Some(queue) = &self.on_failure else {
            return Ok(());
        };
        self.clients
            .sqs
            .send_message()
            .queue_url(&queue.url)
            .message_body(message.to_string())
            .send()
            .await
            .map_err(|e| self.clients.aws_error("sqs", "SendMessage", &queue.name, e))?;
        Ok(())
    }
}

/// A pump running in the background, stopped when dropped.
pub struct RunningPump(tokio::task::JoinHandle<()>);

impl RunningPump {
    pub fn spawn(pump: StreamPump) -> Self {
        Self(tokio::spawn(pump.run()))
    }
}

impl Drop for RunningPump {
    fn drop(&mut self) {
        self.0.abort();
    }
}
