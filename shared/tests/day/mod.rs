//! A realistic clearing day, seeded and deterministic, with the outcome each
//! record must reach known in advance; and the ingest core that takes it
//! (parse, validate, match against authorizations with their cumulative
//! clearing state, in memory, no I/O). Shared by `tests/clearing_day.rs`
//! (which also runs the day through `IngestService`) and
//! `benches/clearing_day.rs` (`./dev.sh bench`).
//!
//! The mix, by weight out of 1,000 scenarios (a scenario is one or more
//! records; amounts vary, seeded), with each record's expected outcome:
//!
//! | scenario | weight | records and expected outcome |
//! | --- | --- | --- |
//! | exact purchase | 520 | 200/1401, the authorized amount → MATCHED |
//! | tip within tolerance | 70 | MCC 5812–5814, 1–20% above, 1402 → MATCHED |
//! | lodging within tolerance | 20 | MCC 7011, 1–15% above, 1402 → MATCHED |
//! | split shipment | 40 | 2 or 3 presentments summing to the authorization, 1402 → MATCHED each |
//! | partial capture | 30 | 50–99% of the authorization, 1402 → MATCHED |
//! | second presentment | 15 | its purchase → MATCHED; then 205 or 282 → RECORDED |
//! | chargeback | 20 | its purchase → MATCHED; then 450 or 453 → RECORDED |
//! | fee collection | 30 | 700, 780–783 or 790 → RECORDED |
//! | not previously authorized | 20 | 1400, no authorization → FORCE_POSTED (shipped rule) |
//! | foreign currency | 90 | USD cleared, billed in BRL or EUR within ±2.5% of the authorization → MATCHED |
//! | matched by reference | 60 | no `transUid`: network + reference + settlement date → MATCHED |
//! | true duplicate | 10 | its purchase → MATCHED; the same again under another id → DUPLICATE_PRESENTMENT |
//! | over tolerance | 25 | 25–60% above (restaurant) or 1–10% above (no tolerance) → AMOUNT_DIVERGENT |
//! | seed's broken date | 25 | `transactionLocalDate` 2024-24-04 → INVALID_FIELD |
//! | authorization not found | 25 | 1402, no authorization → AUTHORIZATION_NOT_FOUND |
//! | late presentment | 10 | authorized 16 days before the sweep (7-day window), expired by it; then a presentment → MATCHED, flagged late (shipped rule MATCH_AND_FLAG) |
//! | expired authorization | 10 | authorized 16 days before the sweep, never cleared → the authorization EXPIRED (no record) |
//! | lodging within its window | 10 | MCC 7011 authorized 16 days before the sweep (30-day window) → not expired; its presentment → MATCHED |
//!
//! Authorizations are stored first; then the expiry sweep runs at [`SWEEP_AT`]
//! (2024-04-26: every other authorization, made 2024-04-22, is within its
//! window); then records go in two waves: presentments (shuffled), then what
//! refers to them (dispute steps, duplicates), each wave in notifications of
//! up to 1,000. [`Day::expiring`] lists the authorizations the sweep must expire.

use std::collections::{BTreeMap, HashMap};

use chrono::Utc;
use shared::authorization::{
    parse_authorization_notification, Authorization, AuthorizationKey, AuthorizationStatus,
};
use shared::authorization_expiry::ExpiryDecision;
use shared::clearing::notification::MAX_RECORDS_PER_NOTIFICATION;
use shared::clearing::{
    clearing_records, ClearingMessage, ClearingStatus, PendingReasonCode, PreparedRecord,
    RulesVersion,
};

/// The kinds of scenario a day is made of (see the table above).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    ExactPurchase,
    TipWithinTolerance,
    LodgingWithinTolerance,
    SplitShipment,
    PartialCapture,
    SecondPresentment,
    Chargeback,
    FeeCollection,
    NotPreviouslyAuthorized,
    ForeignCurrency,
    MatchedByReference,
    TrueDuplicate,
    OverTolerance,
    BrokenDate,
    AuthorizationNotFound,
    LatePresentment,
    ExpiredAuthorization,
    LodgingWithinWindow,
}

/// Each scenario's weight out of 1,000.
pub const MIX: [(Scenario, u64); 18] = [
    (Scenario::ExactPurchase, 520),
    (Scenario::TipWithinTolerance, 70),
    (Scenario::LodgingWithinTolerance, 20),
    (Scenario::SplitShipment, 40),
    (Scenario::PartialCapture, 30),
    (Scenario::SecondPresentment, 15),
    (Scenario::Chargeback, 20),
    (Scenario::FeeCollection, 30),
    (Scenario::NotPreviouslyAuthorized, 20),
    (Scenario::ForeignCurrency, 90),
    (Scenario::MatchedByReference, 60),
    (Scenario::TrueDuplicate, 10),
    (Scenario::OverTolerance, 25),
    (Scenario::BrokenDate, 25),
    (Scenario::AuthorizationNotFound, 25),
    (Scenario::LatePresentment, 10),
    (Scenario::ExpiredAuthorization, 10),
    (Scenario::LodgingWithinWindow, 10),
];

/// When the expiry sweep runs, between the authorizations and the records.
pub const SWEEP_AT: &str = "2024-04-26T00:00:00Z";

/// When the authorizations of the expiry scenarios were made (16 days before the sweep).
const OLD_AUTHORIZATION: &str = "2024-04-10T16:00:00Z";

pub fn sweep_at() -> chrono::DateTime<Utc> {
    SWEEP_AT.parse().unwrap()
}

/// What a record is and where it must end: a status, or the pending reason's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truth {
    pub case: &'static str,
    pub expected: &'static str,
}

/// A generated day.
pub struct Day {
    /// Authorization notification bodies (`{"authorizations": [...]}`).
    pub authorizations: Vec<Vec<u8>>,
    /// Clearing notification bodies (`{"clearing": [...]}`), in delivery order.
    pub notifications: Vec<Vec<u8>>,
    /// Every clearing record's id and truth, in generation order.
    pub truth: Vec<(String, Truth)>,
    /// The authorizations the sweep at [`SWEEP_AT`] must expire (no other may).
    pub expiring: Vec<String>,
    /// Every authorization's transUid.
    pub authorization_uids: Vec<String>,
    rng: Rng,
    auths: Vec<String>,
    waves: [Vec<String>; 2],
    next: u64,
}

/// SplitMix64: a tiny seeded generator, so the day is the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.next() as usize % items.len()]
    }
}

/// Amounts are integer minor units (cents) until written as JSON text.
fn money(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// One clearing record, with the seed example's fields.
struct Clearing {
    id: String,
    uid: Option<String>,
    card: String,
    reference: String,
    cents: u64,
    billed: Option<(u64, &'static str)>,
    local_date: &'static str,
    code: &'static str,
    reason: &'static str,
    mcc: &'static str,
}

impl Clearing {
    fn json(&self) -> String {
        let (billed, billed_currency) = self.billed.unwrap_or((self.cents, "USD"));
        let uid = self
            .uid
            .as_ref()
            .map(|u| format!(r#""transUid":"{u}","#))
            .unwrap_or_default();
        format!(
            r#"{{"cardReference":"{card}","referenceNumber":"{reference}","transactionAmount":{amount},"transactionCurrency":"USD","transactionLocalDate":"{date}","transactionLocalTime":"16:01:00","settlementDate":"2024-04-26","transactionType":"05","merchantName":"CENTRA","cardAcceptorCity":"NEW YORK","cardAcceptorState":"NY","merchantCountryCode":"USA","merchantCategoryCode":"{mcc}","acquirerId":"123456",{uid}"cardholderAmount":{billed},"cardholderCurrency":"{billed_currency}","financialNetworkCode":"MCF","processDate":"2024-04-25","clearingUniqueId":"{id}","functionCode":"{code}","messageReasonCode":"{reason}","banknetDate":"0424"}}"#,
            card = self.card,
            reference = self.reference,
            amount = money(self.cents),
            date = self.local_date,
            mcc = self.mcc,
            billed = money(billed),
            id = self.id,
            code = self.code,
            reason = self.reason,
        )
    }
}

const DATES: [&str; 4] = ["2024-04-22", "2024-04-23", "2024-04-24", "2024-04-25"];
const PLAIN_MCCS: [&str; 6] = ["5411", "5541", "5999", "4111", "5732", "5691"];
const RESTAURANT_MCCS: [&str; 3] = ["5812", "5813", "5814"];
const FEE_CODES: [&str; 6] = ["700", "780", "781", "782", "783", "790"];

impl Day {
    /// A day of at least `records` clearing records, the same for the same `seed`.
    pub fn generate(records: usize, seed: u64) -> Self {
        let mut day = Day {
            authorizations: Vec::new(),
            notifications: Vec::new(),
            truth: Vec::new(),
            expiring: Vec::new(),
            authorization_uids: Vec::new(),
            rng: Rng(seed),
            auths: Vec::new(),
            waves: [Vec::new(), Vec::new()],
            next: 0,
        };
        let total: u64 = MIX.iter().map(|(_, w)| w).sum();
        while day.truth.len() < records {
            let mut roll = day.rng.next() % total;
            let scenario = MIX
                .iter()
                .find(|(_, w)| {
                    let hit = roll < *w;
                    roll = roll.saturating_sub(*w);
                    hit
                })
                .map_or(Scenario::ExactPurchase, |(s, _)| *s);
            day.scenario(scenario);
        }
        day.finish();
        day
    }

    fn finish(&mut self) {
        // Presentments arrive in no particular order.
        let wave = &mut self.waves[0];
        for i in (1..wave.len()).rev() {
            let j = self.rng.next() as usize % (i + 1);
            wave.swap(i, j);
        }
        let envelope = |list: &str, records: &[String]| {
            format!(r#"{{"{list}":[{}]}}"#, records.join(",")).into_bytes()
        };
        for chunk in self.auths.chunks(MAX_RECORDS_PER_NOTIFICATION) {
            self.authorizations.push(envelope("authorizations", chunk));
        }
        for wave in &self.waves {
            for chunk in wave.chunks(MAX_RECORDS_PER_NOTIFICATION) {
                self.notifications.push(envelope("clearing", chunk));
            }
        }
    }

    /// A fresh scenario's transUid and card.
    fn ids(&mut self) -> (String, String) {
        self.next += 1;
        (
            format!("U{:09}", self.next),
            format!("card-{:06x}", self.rng.range(0, 0xff_ffff)),
        )
    }

    fn authorization(&mut self, uid: &str, card: &str, cents: u64, currency: &str, mcc: &str) {
        self.authorization_at(uid, card, cents, currency, mcc, "2024-04-22T16:00:00Z");
    }

    fn authorization_at(
        &mut self,
        uid: &str,
        card: &str,
        cents: u64,
        currency: &str,
        mcc: &str,
        at: &str,
    ) {
        self.authorization_uids.push(uid.to_owned());
        self.auths.push(format!(
            r#"{{"transUid":"{uid}","cardReference":"{card}","transactionAmount":{},"transactionCurrency":"{currency}","merchantCategoryCode":"{mcc}","authorizationDateTime":"{at}","status":"APPROVED","financialNetworkCode":"MCF","referenceNumber":"{uid}R","settlementDate":"2024-04-26"}}"#,
            money(cents)
        ));
    }

    fn add(&mut self, wave: usize, c: Clearing, case: &'static str, expected: &'static str) {
        self.truth.push((c.id.clone(), Truth { case, expected }));
        self.waves[wave].push(c.json());
    }

    /// A first presentment of `uid` on `card` (the caller sets the rest).
    fn purchase(
        &mut self,
        uid: &str,
        card: &str,
        suffix: &str,
        cents: u64,
        mcc: &'static str,
    ) -> Clearing {
        Clearing {
            id: format!("{uid}{suffix}"),
            uid: Some(uid.to_owned()),
            card: card.to_owned(),
            reference: format!("{uid}R{suffix}"),
            cents,
            billed: None,
            local_date: self.rng.pick(&DATES),
            code: "200",
            reason: "1402",
            mcc,
        }
    }

    /// Adds one scenario's authorizations and records.
    pub fn scenario(&mut self, scenario: Scenario) {
        use Scenario::*;
        let (uid, card) = self.ids();
        let cents = self.rng.range(100, 50_000);
        let mcc = self.rng.pick(&PLAIN_MCCS);
        match scenario {
            ExactPurchase => {
                self.authorization(&uid, &card, cents, "USD", mcc);
                let mut p = self.purchase(&uid, &card, "P", cents, mcc);
                p.reason = "1401";
                self.add(0, p, "exact purchase", "MATCHED");
            }
            TipWithinTolerance | LodgingWithinTolerance => {
                let (mcc, max, case) = if scenario == TipWithinTolerance {
                    (self.rng.pick(&RESTAURANT_MCCS), 20, "tip within tolerance")
                } else {
                    ("7011", 15, "lodging within tolerance")
                };
                self.authorization(&uid, &card, cents, "USD", mcc);
                // At most `max` percent above, rounded down to the cent.
                let over = (cents * self.rng.range(1, max) / 100).max(1);
                let p = self.purchase(&uid, &card, "P", cents + over, mcc);
                self.add(0, p, case, "MATCHED");
            }
            SplitShipment => {
                self.authorization(&uid, &card, cents, "USD", mcc);
                let parts = self.rng.range(2, 3);
                let mut left = cents;
                for part in 0..parts {
                    let this = if part + 1 == parts { left } else { left / 2 };
                    left -= this;
                    let p = self.purchase(&uid, &card, &format!("S{part}"), this, mcc);
                    self.add(0, p, "split shipment part", "MATCHED");
                }
            }
            PartialCapture => {
                self.authorization(&uid, &card, cents, "USD", mcc);
                let part = cents * self.rng.range(50, 99) / 100;
                let p = self.purchase(&uid, &card, "P", part, mcc);
                self.add(0, p, "partial capture", "MATCHED");
            }
            SecondPresentment | Chargeback => {
                self.authorization(&uid, &card, cents, "USD", mcc);
                let mut p = self.purchase(&uid, &card, "P", cents, mcc);
                p.reason = "1401";
                let (codes, case, purchase_case) = if scenario == Chargeback {
                    (["450", "453"], "chargeback", "purchase later charged back")
                } else {
                    (
                        ["205", "282"],
                        "second presentment",
                        "purchase later presented again",
                    )
                };
                self.add(0, p, purchase_case, "MATCHED");
                let mut d = self.purchase(&uid, &card, "D", cents, mcc);
                d.code = self.rng.pick(&codes);
                if d.code == "453" || d.code == "282" {
                    d.cents = cents / 2;
                }
                self.add(1, d, case, "RECORDED");
            }
            FeeCollection => {
                let fee = self.rng.range(50, 2_500);
                let mut f = self.purchase(&uid, &card, "F", fee, mcc);
                f.code = self.rng.pick(&FEE_CODES);
                self.add(0, f, "fee collection", "RECORDED");
            }
            NotPreviouslyAuthorized => {
                let mut p = self.purchase(&uid, &card, "P", cents, mcc);
                p.reason = "1400";
                self.add(0, p, "not previously authorized", "FORCE_POSTED");
            }
            ForeignCurrency => self.foreign(&uid, &card, cents, mcc),
            MatchedByReference => {
                self.authorization(&uid, &card, cents, "USD", mcc);
                let mut p = self.purchase(&uid, &card, "P", cents, mcc);
                (p.uid, p.reference, p.reason) = (None, format!("{uid}R"), "1401");
                self.add(0, p, "matched by reference", "MATCHED");
            }
            TrueDuplicate => {
                self.authorization(&uid, &card, cents, "USD", mcc);
                let mut p = self.purchase(&uid, &card, "P", cents, mcc);
                p.reason = "1401";
                let mut again = self.purchase(&uid, &card, "X", cents, mcc);
                (again.reference, again.local_date, again.reason) =
                    (p.reference.clone(), p.local_date, "1401");
                self.add(0, p, "purchase later duplicated", "MATCHED");
                self.add(1, again, "true duplicate", "DUPLICATE_PRESENTMENT");
            }
            OverTolerance => {
                let restaurant = self.rng.range(0, 1) == 0;
                let (mcc, percent) = if restaurant {
                    (self.rng.pick(&RESTAURANT_MCCS), self.rng.range(25, 60))
                } else {
                    (mcc, self.rng.range(1, 10))
                };
                self.authorization(&uid, &card, cents, "USD", mcc);
                let over = (cents * percent / 100).max(1);
                let p = self.purchase(&uid, &card, "P", cents + over, mcc);
                self.add(0, p, "over tolerance", "AMOUNT_DIVERGENT");
            }
            BrokenDate => {
                self.authorization(&uid, &card, cents, "USD", mcc);
                let mut p = self.purchase(&uid, &card, "P", cents, mcc);
                p.local_date = "2024-24-04";
                self.add(0, p, "seed's broken date", "INVALID_FIELD");
            }
            AuthorizationNotFound => {
                let p = self.purchase(&uid, &card, "P", cents, mcc);
                self.add(0, p, "authorization not found", "AUTHORIZATION_NOT_FOUND");
            }
            LatePresentment | ExpiredAuthorization | LodgingWithinWindow => {
                self.expiry(scenario, &uid, &card, cents, mcc)
            }
        }
    }

    /// Authorized 16 days before the sweep: expired (7-day window) unless lodging (30).
    fn expiry(&mut self, scenario: Scenario, uid: &str, card: &str, cents: u64, mcc: &'static str) {
        let mcc = if scenario == Scenario::LodgingWithinWindow {
            "7011"
        } else {
            mcc
        };
        self.authorization_at(uid, card, cents, "USD", mcc, OLD_AUTHORIZATION);
        let mut p = self.purchase(uid, card, "P", cents, mcc);
        p.reason = "1401";
        match scenario {
            Scenario::LatePresentment => {
                self.expiring.push(uid.to_owned());
                self.add(0, p, "late presentment (flagged)", "MATCHED");
            }
            Scenario::LodgingWithinWindow => {
                self.add(0, p, "lodging within its 30-day window", "MATCHED")
            }
            _ => self.expiring.push(uid.to_owned()),
        }
    }

    /// Authorized in the billing currency (BRL or EUR), cleared in USD, billed
    /// within ±2.5% of the authorization (the shipped variance is 3%).
    fn foreign(&mut self, uid: &str, card: &str, cents: u64, mcc: &'static str) {
        let (currency, per_usd) = self.rng.pick(&[("BRL", 505), ("EUR", 92)]);
        let authorized = cents * per_usd / 100;
        self.authorization(uid, card, authorized, currency, mcc);
        let per_mille = self.rng.range(0, 50);
        let billed = authorized * (975 + per_mille) / 1000;
        let mut p = self.purchase(uid, card, "P", cents, mcc);
        p.billed = Some((billed, currency));
        self.add(0, p, "foreign currency", "MATCHED");
    }
}

/// Where a record ended: its status, or the code of its pending reason.
pub fn outcome_name(status: ClearingStatus, reason: Option<PendingReasonCode>) -> &'static str {
    match (status, reason) {
        (ClearingStatus::Pending, Some(code)) => code.as_str(),
        (status, _) => status.as_str(),
    }
}

/// The ingest core over authorizations held in memory: what the webhook does
/// between reading the body and writing (parse, validate, look up, match,
/// decide the message and its claim), with each claim applied at once so the
/// next presentment sees the cumulative total. No I/O.
#[derive(Clone)]
pub struct IngestCore<'a> {
    rules: &'a RulesVersion,
    authorizations: Vec<Authorization>,
    by_key: HashMap<AuthorizationKey, usize>,
}

impl<'a> IngestCore<'a> {
    /// The day's authorizations stored (each with its window), then swept at [`SWEEP_AT`].
    pub fn new(rules: &'a RulesVersion, day: &Day) -> Self {
        let mut core = Self {
            rules,
            authorizations: Vec::new(),
            by_key: HashMap::new(),
        };
        for body in &day.authorizations {
            for auth in parse_authorization_notification(body, "MASTERCARD").unwrap() {
                let mut auth = auth.unwrap();
                auth.expiry = rules.expiry_terms(&auth, sweep_at());
                if let ExpiryDecision::Expire(expired) = auth.expire(sweep_at()) {
                    auth = *expired;
                }
                for key in auth.keys() {
                    core.by_key.insert(key, core.authorizations.len());
                }
                core.authorizations.push(auth);
            }
        }
        core
    }

    pub fn authorization_count(&self) -> usize {
        self.authorizations.len()
    }

    /// The transUids of the authorizations the sweep expired.
    pub fn expired(&self) -> Vec<String> {
        self.authorizations
            .iter()
            .filter(|a| a.status == AuthorizationStatus::Expired)
            .map(|a| a.trans_uid.clone())
            .collect()
    }

    /// Takes one notification; `out` gets each record's id, status and pending reason.
    pub fn ingest(
        &mut self,
        body: &[u8],
        mut out: impl FnMut(&str, ClearingStatus, Option<PendingReasonCode>),
    ) {
        let now = Utc::now();
        for record in clearing_records(body).unwrap() {
            let prepared = PreparedRecord::new(record);
            let index = prepared
                .authorization_key()
                .and_then(|k| self.by_key.get(&k).copied());
            let auth = index.map(|i| &self.authorizations[i]);
            let decision = ClearingMessage::ingest(
                prepared,
                "MASTERCARD",
                auth,
                self.rules,
                "webhook:mastercard",
                now,
            );
            if let (Some(claim), Some(i)) = (&decision.claim, index) {
                let auth = &mut self.authorizations[i];
                auth.clearings
                    .insert(claim.clearing_unique_id.clone(), claim.presentment.clone());
                auth.claimed_by
                    .get_or_insert_with(|| claim.clearing_unique_id.clone());
                auth.version += 1;
            }
            let m = &decision.message;
            out(
                &m.clearing_unique_id,
                m.status,
                m.pending_reason.as_ref().map(|r| r.code),
            );
        }
    }
}

/// Per case: records, expected outcome, what they got (count per outcome), misplaced.
#[derive(Default)]
pub struct Tally {
    rows: BTreeMap<(&'static str, &'static str), BTreeMap<String, usize>>,
    pub records: usize,
    pub misplaced: Vec<String>,
}

impl Tally {
    /// Compares every record's outcome (`got`: id → outcome) with its truth.
    pub fn of(day: &Day, got: &HashMap<String, String>) -> Self {
        let mut tally = Tally::default();
        for (id, truth) in &day.truth {
            tally.records += 1;
            let outcome = got.get(id).cloned().unwrap_or_else(|| "(none)".into());
            if outcome != truth.expected {
                tally.misplaced.push(format!(
                    "{id} ({}): expected {}, got {outcome}",
                    truth.case, truth.expected
                ));
            }
            *tally
                .rows
                .entry((truth.case, truth.expected))
                .or_default()
                .entry(outcome)
                .or_default() += 1;
        }
        tally
    }

    /// The table, one line per case.
    pub fn table(&self) -> String {
        let mut text = format!(
            "{:<32} {:>8}  {:<24} {:<44} {:>9}\n",
            "case", "records", "expected", "got", "misplaced"
        );
        for ((case, expected), got) in &self.rows {
            let n: usize = got.values().sum();
            let wrong: usize = got
                .iter()
                .filter(|(o, _)| o.as_str() != *expected)
                .map(|(_, c)| c)
                .sum();
            let got = got
                .iter()
                .map(|(o, c)| format!("{o} {c}"))
                .collect::<Vec<_>>()
                .join(", ");
            text.push_str(&format!(
                "{case:<32} {n:>8}  {expected:<24} {got:<44} {wrong:>9}\n"
            ));
        }
        text.push_str(&format!(
            "{:<32} {:>8}  {:<24} {:<44} {:>9}\n",
            "all",
            self.records,
            "",
            "",
            self.misplaced.len()
        ));
        text
    }
}
