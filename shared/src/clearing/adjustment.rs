//! An operator's corrections of a clearing record's fields, checked before
//! they are applied.

use serde::{Deserialize, Serialize};

use super::fields::ClearingField;

/// An operator's correction of one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjustment {
    pub field: ClearingField,
    pub new_value: String,
}

/// Why an adjustment cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdjustmentError {
    #[error("adjustments[{index}].field `{field}` is not a clearing record field")]
    UnknownField { index: usize, field: String },
    #[error("adjustments[{index}].field `{field}` identifies the record and cannot be adjusted")]
    IdentityField { index: usize, field: ClearingField },
    #[error("adjustments[{index}].new_value for `{field}`: {problem}")]
    InvalidValue {
        index: usize,
        field: ClearingField,
        problem: String,
    },
    #[error("adjustments[{index}].field `{field}` is adjusted more than once")]
    Repeated { index: usize, field: ClearingField },
}

/// Checks an operator's adjustments: known, adjustable fields whose new
/// values parse for their kind.
pub fn check_adjustments(raw: &[(String, String)]) -> Result<Vec<Adjustment>, AdjustmentError> {
    let mut out: Vec<Adjustment> = Vec::with_capacity(raw.len());
    for (index, (name, value)) in raw.iter().enumerate() {
        let field =
            ClearingField::from_name(name).ok_or_else(|| AdjustmentError::UnknownField {
                index,
                field: name.clone(),
            })?;
        if field.is_identity() {
            return Err(AdjustmentError::IdentityField { index, field });
        }
        if out.iter().any(|a| a.field == field) {
            return Err(AdjustmentError::Repeated { index, field });
        }
        field
            .kind()
            .check(value)
            .map_err(|problem| AdjustmentError::InvalidValue {
                index,
                field,
                problem,
            })?;
        out.push(Adjustment {
            field,
            new_value: value.clone(),
        });
    }
    Ok(out)
}
