//! The one reading of decimal amounts and calendar dates from input text.
//!
//! Clearing records, authorizations and Pix inputs all carry amounts and
//! `YYYY-MM-DD` dates; reading them with one grammar means the same text is
//! the same value (or the same refusal) everywhere. Each use keeps its own rule
//! on top of the value read here: clearing amounts are never negative and carry
//! at most their currency's minor units, Pix amounts are positive with at most
//! two places.
//!
//! Both parsers are strict: nothing is trimmed, rounded or guessed. An amount's
//! digits become a [`Decimal`] exactly, with the scale written (`1.00` has
//! scale 2), never through `f64`.

use std::borrow::Cow;
use std::ops::Range;

use chrono::NaiveDate;
use rust_decimal::Decimal;

/// The most decimal places a [`Decimal`] holds.
pub const MAX_DECIMAL_PLACES: u32 = Decimal::MAX_SCALE;

/// The most significant digits an amount may have: every number of up to 28
/// digits fits a [`Decimal`] exactly (only some of 29 do, below 2^96).
pub const MAX_DIGITS: u32 = 28;

/// The largest digit string of [`MAX_DIGITS`] digits, as an integer.
const MAX_MANTISSA: u128 = 10u128.pow(MAX_DIGITS) - 1;

/// Exponents are read up to this magnitude; anything larger is out of range
/// (or has too many places) either way, and capping it bounds the work.
const MAX_EXPONENT: i64 = 1_000_000;

/// Which written forms of a number are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notation {
    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?`: an amount written as text.
    Plain,
    /// A JSON number token as sent: the plain form plus JSON's exponent
    /// (`1.5e2`), which the JSON grammar allows in a number. The exponent
    /// shifts the digits exactly (`1.5e2` is 150, `1e-3` is 0.001).
    JsonNumber,
}

/// Why a text is not a decimal amount. The text is echoed shortened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    #[error("'{text}' is not a decimal number: {reason}")]
    Syntax { text: String, reason: &'static str },
    #[error("'{text}' has {places} decimal places; a decimal holds at most {max}", max = MAX_DECIMAL_PLACES)]
    TooManyPlaces { text: String, places: i64 },
    #[error("'{text}' is out of range: more than {max} significant digits", max = MAX_DIGITS)]
    OutOfRange { text: String },
}

/// Why a text is not a `YYYY-MM-DD` calendar date. The text is echoed shortened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("'{text}' is not a date in the form YYYY-MM-DD")]
    Shape { text: String },
    // Naming the month is what tells an operator the seed's `2024-24-04` has day and month swapped.
    #[error("'{text}' is not a valid calendar date (YYYY-MM-DD): month {month} does not exist")]
    Month { text: String, month: u32 },
    #[error("'{text}' is not a valid calendar date (YYYY-MM-DD): day out of range for the month")]
    Day { text: String },
}

/// Reads a decimal amount exactly, keeping its scale, or says why it cannot.
///
/// Refused: empty text, whitespace, a leading `+`, leading zeros (`012`), a
/// point without digits on both sides, thousands separators, anything but
/// ASCII digits (`NaN`, `١٢`), an exponent unless `notation` is
/// [`Notation::JsonNumber`], more than [`MAX_DECIMAL_PLACES`] places and more
/// than [`MAX_DIGITS`] significant digits (leading zeros are not significant;
/// the zeros an exponent appends are). The sign is kept; whether a negative
/// amount is acceptable is the caller's rule.
pub fn parse_decimal(text: &str, notation: Notation) -> Result<Decimal, DecimalError> {
    let parts = scan(text, notation).map_err(|reason| DecimalError::Syntax {
        text: shorten(text).into_owned(),
        reason,
    })?;
    let places = parts.frac.len() as i64 - parts.exponent;
    if places > i64::from(MAX_DECIMAL_PLACES) {
        return Err(DecimalError::TooManyPlaces {
            text: shorten(text).into_owned(),
            places,
        });
    }
    let out_of_range = || DecimalError::OutOfRange {
        text: shorten(text).into_owned(),
    };
    let mut mantissa: u128 = 0;
    for digit in parts.int.bytes().chain(parts.frac.bytes()) {
        mantissa = mantissa * 10 + u128::from(digit - b'0');
        if mantissa > MAX_MANTISSA {
            return Err(out_of_range());
        }
    }
    // An exponent beyond the written places shifts the digits left: 1.5e2 is 150.
    let mut shift = (-places).max(0);
    while shift > 0 && mantissa != 0 {
        mantissa *= 10;
        if mantissa > MAX_MANTISSA {
            return Err(out_of_range());
        }
        shift -= 1;
    }
    let magnitude = mantissa as i128; // below 10^28
    let signed = if parts.negative {
        -magnitude
    } else {
        magnitude
    };
    Decimal::try_from_i128_with_scale(signed, places.max(0) as u32).map_err(|_| out_of_range())
}

/// The pieces of a well-formed number: sign, integer and fraction digits, exponent.
struct Parts<'a> {
    negative: bool,
    int: &'a str,
    frac: &'a str,
    exponent: i64,
}

fn scan(text: &str, notation: Notation) -> Result<Parts<'_>, &'static str> {
    let b = text.as_bytes();
    match b.first() {
        None => return Err("it is empty"),
        Some(b'+') => return Err("a leading '+' is not accepted"),
        _ => {}
    }
    if text.chars().any(char::is_whitespace) {
        return Err("it contains whitespace");
    }
    let negative = b[0] == b'-';
    let mut i = usize::from(negative);
    let int = &text[digits(b, &mut i)];
    if int.len() > 1 && int.starts_with('0') {
        return Err("leading zeros are not accepted");
    }
    let mut frac = "";
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac = &text[digits(b, &mut i)];
        if int.is_empty() || frac.is_empty() {
            return Err("a decimal point needs digits on both sides");
        }
    }
    if int.is_empty() {
        return Err(unexpected(b.get(i)));
    }
    let mut exponent = 0;
    if matches!(b.get(i), Some(b'e' | b'E')) {
        if notation == Notation::Plain {
            return Err("an exponent is not accepted here; write the digits out");
        }
        i += 1;
        let exp_negative = b.get(i) == Some(&b'-');
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let range = digits(b, &mut i);
        if range.is_empty() {
            return Err("an exponent needs digits");
        }
        exponent = b[range].iter().fold(0i64, |n, d| {
            (n * 10 + i64::from(d - b'0')).min(MAX_EXPONENT)
        });
        if exp_negative {
            exponent = -exponent;
        }
    }
    match b.get(i) {
        None => Ok(Parts {
            negative,
            int,
            frac,
            exponent,
        }),
        other => Err(unexpected(other)),
    }
}

/// Advances over ASCII digits, returning their range.
fn digits(b: &[u8], i: &mut usize) -> Range<usize> {
    let start = *i;
    while b.get(*i).is_some_and(u8::is_ascii_digit) {
        *i += 1;
    }
    start..*i
}

fn unexpected(at: Option<&u8>) -> &'static str {
    match at {
        Some(b',' | b'_' | b'\'') => "thousands separators are not accepted",
        Some(b'.') => "it has more than one decimal point",
        _ => "only the ASCII digits 0-9, a leading '-' and a decimal point are accepted",
    }
}

/// Reads a `YYYY-MM-DD` date strictly: ASCII digits, zero-padded, a real day
/// of the proleptic Gregorian calendar (years 0000 to 9999).
pub fn parse_date(text: &str) -> Result<NaiveDate, DateError> {
    let b = text.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shaped {
        return Err(DateError::Shape {
            text: shorten(text).into_owned(),
        });
    }
    let number = |r: Range<usize>| b[r].iter().fold(0, |n, d| n * 10 + u32::from(d - b'0'));
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    if !(1..=12).contains(&month) {
        return Err(DateError::Month {
            text: text.to_owned(),
            month,
        });
    }
    // Four digits: the year always fits an i32.
    NaiveDate::from_ymd_opt(year as i32, month, day).ok_or_else(|| DateError::Day {
        text: text.to_owned(),
    })
}

/// Echoes at most 64 characters of a value in an error message.
pub(crate) fn shorten(text: &str) -> Cow<'_, str> {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        None => Cow::Borrowed(text),
        Some((cut, _)) => Cow::Owned(format!("{}…", &text[..cut])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Notation::{JsonNumber, Plain};

    fn dec(text: &str) -> Decimal {
        parse_decimal(text, Plain).unwrap()
    }

    fn syntax_reason(text: &str, notation: Notation) -> &'static str {
        match parse_decimal(text, notation) {
            Err(DecimalError::Syntax { reason, .. }) => reason,
            other => panic!("{text:?}: expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn amounts_keep_their_digits_and_scale() {
        assert_eq!(dec("12.34").to_string(), "12.34");
        assert_eq!(dec("12.30").to_string(), "12.30");
        assert_eq!(dec("1.00").scale(), 2);
        assert_eq!(dec("0").scale(), 0);
        assert_eq!(dec("0.10").to_string(), "0.10");
        assert_eq!(dec("0.1") + dec("0.2"), dec("0.3"));
        assert_eq!(
            dec("98765432109876543.21").to_string(),
            "98765432109876543.21"
        );
    }

    #[test]
    fn the_sign_is_kept_for_the_caller_to_judge() {
        assert_eq!(dec("-5.00").to_string(), "-5.00");
        assert!(dec("-0.0").is_zero());
        assert!(!dec("-0.0").is_sign_negative(), "no negative zero");
    }

    #[test]
    fn max_precision_is_accepted_and_one_more_digit_refused() {
        let places = format!("0.{}1", "0".repeat(27));
        assert_eq!(dec(&places).scale(), 28);
        let too_many = format!("0.{}1", "0".repeat(28));
        assert!(matches!(
            parse_decimal(&too_many, Plain),
            Err(DecimalError::TooManyPlaces { places: 29, .. })
        ));
        // Trailing zeros are places too: nothing is silently rounded away.
        assert!(parse_decimal(&format!("1.{}", "0".repeat(29)), Plain).is_err());

        let max = "9".repeat(28);
        assert_eq!(dec(&max).to_string(), max);
        assert_eq!(dec(&format!("-{max}")).to_string(), format!("-{max}"));
        assert_eq!(dec(&format!("0.{max}")).scale(), 28);
        assert_eq!(dec(&format!("0.000{}", &max[3..])).scale(), 28);
        assert_eq!(dec(&format!("999.{}", &max[3..])).to_string().len(), 29);
        for over in [
            "1".repeat(29),
            "79228162514264337593543950335".into(), // Decimal::MAX: 29 digits
            "1.0000000000000000000000000000".into(),
            "123456789012345678901234567890".into(),
        ] {
            let over = over.as_str();
            let err = parse_decimal(over, Plain).unwrap_err();
            assert!(matches!(err, DecimalError::OutOfRange { .. }), "{over}");
            assert!(err.to_string().contains("out of range"), "{err}");
        }
    }

    #[test]
    fn malformed_amounts_are_refused_with_a_reason() {
        for (text, reason) in [
            ("", "it is empty"),
            (" 12.30", "it contains whitespace"),
            ("12.30\n", "it contains whitespace"),
            ("1 000", "it contains whitespace"),
            ("+1", "a leading '+' is not accepted"),
            ("012.30", "leading zeros are not accepted"),
            ("-00", "leading zeros are not accepted"),
            ("12.", "a decimal point needs digits on both sides"),
            (".5", "a decimal point needs digits on both sides"),
            ("1.2.3", "it has more than one decimal point"),
            ("1,000.00", "thousands separators are not accepted"),
            ("12,34", "thousands separators are not accepted"),
            ("1_000", "thousands separators are not accepted"),
            ("1'000", "thousands separators are not accepted"),
            (
                "1e3",
                "an exponent is not accepted here; write the digits out",
            ),
        ] {
            assert_eq!(syntax_reason(text, Plain), reason, "{text:?}");
        }
        for text in [
            "abc",
            "NaN",
            "nan",
            "inf",
            "-Infinity",
            "-",
            "--1",
            "0x10",
            "1$",
            "١٢",
            "１２",
            "1.٥",
        ] {
            let err = parse_decimal(text, Plain).unwrap_err();
            assert!(err.to_string().contains("is not a decimal number"), "{err}");
        }
    }

    #[test]
    fn json_numbers_may_carry_an_exponent_applied_exactly() {
        let json = |text| parse_decimal(text, JsonNumber).unwrap();
        assert_eq!(json("1.5e2"), Decimal::from(150));
        assert_eq!(json("1.255e2").to_string(), "125.5");
        assert_eq!(json("1E3").to_string(), "1000");
        assert_eq!(json("1e+3").to_string(), "1000");
        assert_eq!(json("1e-3").to_string(), "0.001");
        assert_eq!(json("12.30").scale(), 2, "plain JSON numbers as written");
        assert_eq!(json("0e999999999").to_string(), "0");
        assert_eq!(json("1e27").to_string().len(), 28);
        assert!(matches!(
            parse_decimal("1e28", JsonNumber),
            Err(DecimalError::OutOfRange { .. })
        ));
        assert!(matches!(
            parse_decimal("1e400", JsonNumber),
            Err(DecimalError::OutOfRange { .. })
        ));
        assert!(matches!(
            parse_decimal("1e-29", JsonNumber),
            Err(DecimalError::TooManyPlaces { .. })
        ));
        assert!(matches!(
            parse_decimal("1e-99999999999", JsonNumber),
            Err(DecimalError::TooManyPlaces { .. })
        ));
        for text in ["1e", "1e+", "1e-", "e3", "1.e3", "1e3.5", "1ee3"] {
            assert!(parse_decimal(text, JsonNumber).is_err(), "{text}");
        }
    }

    #[test]
    fn long_texts_are_echoed_shortened() {
        let long = format!("x{}", "9".repeat(200));
        for err in [
            parse_decimal(&long, Plain).unwrap_err().to_string(),
            parse_date(&long).unwrap_err().to_string(),
        ] {
            assert!(err.contains(&format!("'x{}…'", "9".repeat(63))), "{err}");
        }
    }

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn dates_are_real_calendar_days() {
        assert_eq!(parse_date("2024-04-24").unwrap(), ymd(2024, 4, 24));
        assert_eq!(parse_date("2024-02-29").unwrap(), ymd(2024, 2, 29));
        assert_eq!(parse_date("2000-02-29").unwrap(), ymd(2000, 2, 29));
        assert_eq!(parse_date("2024-12-31").unwrap(), ymd(2024, 12, 31));
        assert_eq!(parse_date("0000-01-01").unwrap(), ymd(0, 1, 1));
        assert_eq!(parse_date("9999-12-31").unwrap(), ymd(9999, 12, 31));
        for bad in [
            "2023-02-29",
            "1900-02-29",
            "2024-04-31",
            "2024-06-31",
            "2024-01-00",
            "2024-01-32",
        ] {
            let err = parse_date(bad).unwrap_err();
            assert!(matches!(err, DateError::Day { .. }), "{bad}: {err}");
            assert!(err.to_string().contains("day out of range"), "{err}");
            assert!(err.to_string().contains("calendar date"), "{err}");
        }
    }

    #[test]
    fn a_month_that_does_not_exist_is_named() {
        for (text, month) in [("2024-24-04", 24), ("2024-13-01", 13), ("2024-00-10", 0)] {
            let err = parse_date(text).unwrap_err();
            assert_eq!(
                err,
                DateError::Month {
                    text: text.into(),
                    month
                }
            );
            let shown = err.to_string();
            assert!(
                shown.contains(&format!("month {month} does not exist")),
                "{shown}"
            );
            assert!(shown.contains("YYYY-MM-DD"), "{shown}");
        }
    }

    #[test]
    fn only_the_zero_padded_ascii_form_is_a_date() {
        for bad in [
            "",
            "24-04-2024",
            "2024-4-24",
            "2024/04/24",
            "20240424",
            " 2024-04-24",
            "2024-04-24 ",
            "2024-04-24T00:00:00Z",
            "+2024-04-24",
            "-2024-04-24",
            "٢٠٢٤-٠٤-٢٤",
            "２０２４-04-24",
            "2024-0a-24",
        ] {
            let err = parse_date(bad).unwrap_err();
            assert!(matches!(err, DateError::Shape { .. }), "{bad:?}: {err}");
            assert!(err.to_string().contains("YYYY-MM-DD"), "{err}");
        }
    }
}
