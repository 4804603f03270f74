//! What the soak sent and what the system acknowledged: the truth the checks
//! hold the table and the captured events to.

use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Default)]
pub struct Truth {
    /// Every clearing record sent: clearingUniqueId -> cardReference.
    pub sent: BTreeMap<String, String>,
    /// Records a 200 of the webhook named (stored, by the contract).
    pub acknowledged: BTreeSet<String>,
    /// Reconciliation requests sent per card, counting every attempt (a timed
    /// out attempt may have been applied).
    pub reconcile_attempts: BTreeMap<String, usize>,
    /// Reconciliation requests answered 202, per card.
    pub reconcile_accepted: BTreeMap<String, usize>,
    /// Pix end-to-end ids with at least one input the bus accepted.
    pub pix_sent: BTreeSet<String>,
    /// Requests (notifications, operator requests, bus entries) still failing
    /// when the soak stopped retrying them.
    pub gave_up: usize,
    /// Answers other than the expected ones, by status (e.g. 409 for an
    /// operator's retry whose first attempt was applied).
    pub other_answers: BTreeMap<u16, usize>,
}

impl Truth {
    /// The number of distinct clearing records the soak sent.
    pub fn records(&self) -> usize {
        self.sent.len()
    }

    /// Adds what another sender learnt.
    pub fn merge(&mut self, other: Truth) {
        self.sent.extend(other.sent);
        self.acknowledged.extend(other.acknowledged);
        for (card, n) in other.reconcile_attempts {
            *self.reconcile_attempts.entry(card).or_default() += n;
        }
        for (card, n) in other.reconcile_accepted {
            *self.reconcile_accepted.entry(card).or_default() += n;
        }
        self.pix_sent.extend(other.pix_sent);
        self.gave_up += other.gave_up;
        for (status, n) in other.other_answers {
            *self.other_answers.entry(status).or_default() += n;
        }
    }
}
