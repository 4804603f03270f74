//! Why a message is where it is, field by field: what the authorization (or
//! the field's rule) expected and what the record brought.

use serde::Serialize;

use crate::authorization::{Authorization, AuthorizationKey};
use crate::clearing::{ClearingField, ClearingMessage};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Explanation {
    pub field: String,
    pub expected: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub arrived: Option<String>,
    /// Whether the two agree.
    pub agrees: bool,
}

/// The authorization the message was matched with, or else the one its
/// transUid names (the one it was compared with).
pub fn authorization_key_of(m: &ClearingMessage) -> Option<AuthorizationKey> {
    let uid = match &m.matched {
        Some(details) => Some(details.authorization_trans_uid.clone()),
        None => m.fields.get(&ClearingField::TransUid).cloned(),
    };
    uid.filter(|u| !u.trim().is_empty())
        .map(AuthorizationKey::TransUid)
}

fn line(field: &str, expected: String, arrived: Option<String>, agrees: bool) -> Explanation {
    Explanation {
        field: field.to_owned(),
        expected,
        arrived,
        agrees,
    }
}

pub fn explain(m: &ClearingMessage, authorization: Option<&Authorization>) -> Vec<Explanation> {
    let mut out = Vec::new();
    if let Some(reason) = &m.pending_reason {
        for p in &reason.fields {
            let arrived = m.fields.get(&p.field).cloned();
            out.push(line(p.field.name(), p.problem.clone(), arrived, false));
        }
    }
    let Some(a) = authorization else {
        if m.status.is_open() && authorization_key_of(m).is_some() {
            out.push(line(
                "transUid",
                "a stored authorization".into(),
                m.fields.get(&ClearingField::TransUid).cloned(),
                false,
            ));
        }
        return out;
    };
    let field = |f: ClearingField| m.fields.get(&f).cloned();
    let card = m.card_hash.clone();
    out.push(line(
        "cardReference",
        a.card_hash.clone(),
        card.clone(),
        card.as_deref() == Some(a.card_hash.as_str()),
    ));
    let currency = field(ClearingField::TransactionCurrency);
    out.push(line(
        "transactionCurrency",
        a.currency.clone(),
        currency.clone(),
        currency.as_deref() == Some(a.currency.as_str()),
    ));
    let amount = field(ClearingField::TransactionAmount);
    let same_amount = amount
        .as_deref()
        .and_then(|x| x.trim().parse::<rust_decimal::Decimal>().ok())
        == Some(a.amount);
    out.push(line(
        "transactionAmount",
        a.amount.to_string(),
        amount,
        same_amount,
    ));
    let status = format!("{:?}", a.status).to_ascii_uppercase();
    out.push(line(
        "authorizationStatus",
        "APPROVED".into(),
        Some(status.clone()),
        status == "APPROVED",
    ));
    out
}
