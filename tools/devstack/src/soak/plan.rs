//! What the soak sends, drawn from its seed: clearing records of four kinds
//! (authorized before, authorized after, an invalid field an operator fixes,
//! never authorized), grouped into notifications with duplicates inside and
//! across them and whole redeliveries; and Pix inputs of every outcome,
//! repeated and shuffled with their days' report closes.

use super::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Its authorization arrives first: MATCHED on arrival.
    Authorized,
    /// Its authorization arrives after it: PENDING, then an operator's request matches it.
    AuthorizedLate,
    /// A month 24 date: PENDING INVALID_FIELD until an operator adjusts it.
    InvalidDate,
    /// No authorization ever: PENDING, reprocessed to PENDING again.
    Unauthorized,
}

#[derive(Debug, Clone)]
pub struct Record {
    pub id: String,
    pub card: String,
    pub trans_uid: String,
    pub amount: String,
    pub kind: Kind,
}

impl Record {
    pub fn clearing_json(&self) -> String {
        let date = if self.kind == Kind::InvalidDate {
            "2024-24-04"
        } else {
            "2024-04-24"
        };
        format!(
            r#"{{"cardReference":"{card}","referenceNumber":"MCF{uid}","transactionAmount":{amount},"transactionCurrency":"USD","transactionLocalDate":"{date}","transactionLocalTime":"16:01:00","settlementDate":"2024-04-26","transactionType":"05","merchantName":"SOAK","cardAcceptorCity":"NEW YORK","cardAcceptorState":"NY","merchantCountryCode":"USA","merchantCategoryCode":"4111","acquirerId":"123456","transUid":"{uid}","cardholderAmount":{amount},"cardholderCurrency":"USD","financialNetworkCode":"MCF","processDate":"2024-04-25","clearingUniqueId":"{id}","functionCode":"200","messageReasonCode":"1401","banknetDate":"0424"}}"#,
            card = self.card,
            uid = self.trans_uid,
            amount = self.amount,
            id = self.id,
        )
    }

    pub fn authorization_json(&self) -> String {
        format!(
            r#"{{"transUid":"{}","cardReference":"{}","transactionAmount":{},"transactionCurrency":"USD","merchantCategoryCode":"4111","authorizationDateTime":"2024-04-24T16:01:00Z","status":"APPROVED"}}"#,
            self.trans_uid, self.card, self.amount
        )
    }

    /// The operator's request for this record's card, if its kind gets one.
    pub fn reconciliation_json(&self) -> Option<String> {
        let adjustments = match self.kind {
            Kind::Authorized => return None,
            Kind::InvalidDate => {
                r#","adjustments":[{"field":"transactionLocalDate","new_value":"2024-04-24"}]"#
            }
            Kind::AuthorizedLate | Kind::Unauthorized => "",
        };
        Some(format!(
            r#"{{"card_network":"MASTERCARD","card_hash":"{}","reconciliation_reason":"soak"{adjustments}}}"#,
            self.card
        ))
    }
}

/// One Pix input as the platform puts it on the bus.
#[derive(Debug, Clone)]
pub struct PixInput {
    pub end_to_end_id: Option<String>,
    pub detail_type: &'static str,
    pub detail: String,
}

pub struct Plan {
    pub records: Vec<Record>,
    /// Notifications, each a list of indexes into `records` (duplicates included).
    pub notifications: Vec<Vec<usize>>,
    /// Indexes of notifications sent a second time after their first 200.
    pub redelivered: Vec<usize>,
    pub pix: Vec<PixInput>,
}

const PIX_DATES: [&str; 3] = ["2024-05-01", "2024-05-02", "2024-05-03"];

impl Plan {
    pub fn new(records: usize, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let salt = seed % 1_000_000;
        let records: Vec<Record> = (0..records)
            .map(|i| {
                let kind = match rng.below(100) {
                    0..=59 => Kind::Authorized,
                    60..=74 => Kind::AuthorizedLate,
                    75..=89 => Kind::InvalidDate,
                    _ => Kind::Unauthorized,
                };
                Record {
                    id: format!("9{salt:06}{i:09}"),
                    card: format!("soak-card-{salt}-{i}"),
                    trans_uid: format!("SOAK{salt}T{i}"),
                    amount: format!("{}.{:02}", 1 + rng.below(500), rng.below(100)),
                    kind,
                }
            })
            .collect();
        let notifications = notifications(&mut rng, records.len());
        let redelivered = (0..notifications.len()).filter(|_| rng.chance(5)).collect();
        let pix = pix_inputs(&mut rng, salt, (records.len() / 10).max(20));
        Self {
            records,
            notifications,
            redelivered,
            pix,
        }
    }
}

/// Records in shuffled order, 10 to 30 a notification; 5% repeated inside
/// their notification, 10% repeated in a later one.
fn notifications(rng: &mut Rng, count: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..count).collect();
    rng.shuffle(&mut order);
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut rest = order.as_slice();
    while !rest.is_empty() {
        let size = (10 + rng.below(21) as usize).min(rest.len());
        let (head, tail) = rest.split_at(size);
        let mut notification = head.to_vec();
        for &i in head {
            if rng.chance(5) {
                notification.push(i);
            }
        }
        out.push(notification);
        rest = tail;
    }
    let n = out.len();
    for k in 0..n {
        let repeats: Vec<usize> = out[k].iter().copied().filter(|_| rng.chance(10)).collect();
        if k + 1 < n {
            let later = k + 1 + rng.below((n - k - 1) as u64) as usize;
            out[later].extend(repeats);
        }
    }
    out
}

/// `count` end-to-end ids: both sides equal (50%), divergent (20%), Pismo
/// side only (15%), provider side only (15%); 20% of inputs sent twice; each
/// day's report close shuffled in with them.
fn pix_inputs(rng: &mut Rng, salt: u64, count: usize) -> Vec<PixInput> {
    let mut inputs = Vec::new();
    for i in 0..count {
        let e2e = format!("E40867163202405011200{:03}{i:08}", salt % 1000);
        let date = PIX_DATES[rng.below(PIX_DATES.len() as u64) as usize];
        let amount = format!("{}.{:02}", 1 + rng.below(900), rng.below(100));
        let (tx, entry) = match rng.below(100) {
            0..=49 => (Some(amount.clone()), Some(amount)),
            50..=69 => (Some(amount), Some("0.01".to_owned())),
            70..=84 => (Some(amount), None),
            _ => (None, Some(amount)),
        };
        if let Some(amount) = tx {
            let detail = format!(
                r#"{{"transaction_id":"tx-{e2e}","end_to_end_id":"{e2e}","amount":"{amount}","authorization_id":123,"authorization_datetime":"{date}T11:00:00.000Z","business_date":"{date}","kind":"PIX_OUT_TRANSFER"}}"#
            );
            push_maybe_twice(rng, &mut inputs, &e2e, "pix_transaction", detail);
        }
        if let Some(amount) = entry {
            let detail = format!(
                r#"{{"end_to_end_id":"{e2e}","provider_amount":"{amount}","provider_authorization_id":"17579222","business_date":"{date}"}}"#
            );
            push_maybe_twice(rng, &mut inputs, &e2e, "provider_settlement_entry", detail);
        }
    }
    rng.shuffle(&mut inputs);
    for date in PIX_DATES {
        // The close lands in the second half: most of its day is in by then.
        let at = inputs.len() / 2 + rng.below((inputs.len() / 2 + 1) as u64) as usize;
        inputs.insert(
            at.min(inputs.len()),
            PixInput {
                end_to_end_id: None,
                detail_type: "provider_report_closed",
                detail: format!(r#"{{"business_date":"{date}"}}"#),
            },
        );
    }
    inputs
}

fn push_maybe_twice(
    rng: &mut Rng,
    inputs: &mut Vec<PixInput>,
    e2e: &str,
    detail_type: &'static str,
    detail: String,
) {
    let input = PixInput {
        end_to_end_id: Some(e2e.to_owned()),
        detail_type,
        detail,
    };
    if rng.chance(20) {
        inputs.push(input.clone());
    }
    inputs.push(input);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_has_every_kind_duplicates_and_the_same_seed_gives_the_same_plan() {
        let plan = Plan::new(2_000, 7);
        for kind in [
            Kind::Authorized,
            Kind::AuthorizedLate,
            Kind::InvalidDate,
            Kind::Unauthorized,
        ] {
            assert!(plan.records.iter().any(|r| r.kind == kind), "{kind:?}");
        }
        let sent: usize = plan.notifications.iter().map(Vec::len).sum();
        assert!(sent > plan.records.len(), "duplicates inside and across");
        let mut seen: Vec<usize> = plan.notifications.iter().flatten().copied().collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), plan.records.len(), "every record is sent");
        assert!(!plan.redelivered.is_empty());
        let closes = plan
            .pix
            .iter()
            .filter(|p| p.detail_type == "provider_report_closed")
            .count();
        assert_eq!(closes, PIX_DATES.len());
        let again = Plan::new(2_000, 7);
        assert_eq!(again.notifications, plan.notifications);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&plan.records[0].clearing_json()).unwrap()
                ["clearingUniqueId"],
            plan.records[0].id.as_str()
        );
    }
}
