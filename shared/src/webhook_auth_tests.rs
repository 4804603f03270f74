//! Webhook credentials: each one authorizes its own network's routes only.

use super::*;

const MC: &str = "MASTERCARD";
const MC_CERT: ClientCertificate<'static> = ClientCertificate {
    subject: "CN=clearing.mastercard.com,O=Mastercard",
    issuer: Some("CN=Mastercard Issuing CA"),
};

fn auth(secrets: &str, subjects: &str) -> WebhookAuth {
    let env = Env::from_pairs([(ALLOWED_SUBJECTS_SETTING, subjects)]);
    WebhookAuth::from_config(&env, Some(secrets)).unwrap()
}

#[test]
fn signature_scheme() {
    let auth = auth(r#"{"mastercard": ["s3cret"]}"#, "");
    let body = b"{\"clearing\":[]}";
    let header = sign("s3cret", 1_000, body);
    assert_eq!(auth.verify(MC, None, Some(&header), body, 1_100), Ok(()));
    assert_eq!(
        auth.verify(MC, None, Some(&header), b"{}", 1_100),
        Err(WebhookAuthError::Mismatch)
    );
    assert_eq!(
        auth.verify(MC, None, Some(&header), body, 2_000),
        Err(WebhookAuthError::Stale)
    );
    assert_eq!(
        auth.verify(MC, None, Some(&sign("other", 1_000, body)), body, 1_000),
        Err(WebhookAuthError::Mismatch)
    );
    assert_eq!(
        auth.verify(MC, None, Some("garbage"), body, 1_000),
        Err(WebhookAuthError::Malformed)
    );
    assert_eq!(
        auth.verify(MC, None, None, body, 1_000),
        Err(WebhookAuthError::Missing)
    );
}

#[test]
fn extreme_signature_timestamps_are_stale_not_a_panic() {
    let auth = auth(r#"{"mastercard": ["s3cret"]}"#, "");
    let body = b"{}";
    for (t, now) in [
        (i64::MIN, 1_700_000_000),
        (i64::MAX, -1_700_000_000),
        (i64::MIN, i64::MAX),
        (i64::MAX, i64::MIN),
    ] {
        let header = sign("s3cret", t, body);
        assert_eq!(
            auth.verify(MC, None, Some(&header), body, now),
            Err(WebhookAuthError::Stale),
            "t={t} now={now}"
        );
    }
}

#[test]
fn a_signature_authorizes_only_its_own_network() {
    let auth = auth(
        r#"{"mastercard": ["mc-secret"], "visa": ["visa-secret"]}"#,
        "",
    );
    let body = b"{}";
    let by_visa = sign("visa-secret", 1, body);
    assert_eq!(auth.verify("visa", None, Some(&by_visa), body, 1), Ok(()));
    assert_eq!(
        auth.verify(MC, None, Some(&by_visa), body, 1),
        Err(WebhookAuthError::Mismatch),
        "visa's secret on mastercard's route"
    );
    // A network without any secret accepts no signature at all.
    assert_eq!(
        auth.verify("elo", None, Some(&sign("mc-secret", 1, body)), body, 1),
        Err(WebhookAuthError::Mismatch)
    );
}

#[test]
fn the_previous_secret_still_works_during_a_rotation() {
    let auth = auth(r#"{"Mastercard": ["new", "old"]}"#, "");
    let body = b"{}";
    for secret in ["new", "old"] {
        let header = sign(secret, 1, body);
        assert_eq!(
            auth.verify(MC, None, Some(&header), body, 1),
            Ok(()),
            "{secret}"
        );
    }
    assert_eq!(
        auth.verify(MC, None, Some(&sign("older", 1, body)), body, 1),
        Err(WebhookAuthError::Mismatch)
    );
}

#[test]
fn a_certificate_authorizes_only_its_own_network_with_its_issuer() {
    let auth = auth(
        "{}",
        "mastercard=CN=clearing.mastercard.com,O=Mastercard|issuer=CN=Mastercard Issuing CA;\
         visa=CN=clearing.visa.com|issuer=CN=Visa CA",
    );
    let body = b"{}";
    assert_eq!(auth.verify(MC, Some(MC_CERT), None, body, 1), Ok(()));
    assert_eq!(
        auth.verify("visa", Some(MC_CERT), None, body, 1),
        Err(WebhookAuthError::UnknownClient),
        "mastercard's certificate on visa's route"
    );
    let refused = [
        ClientCertificate {
            subject: "CN=evil",
            issuer: MC_CERT.issuer,
        },
        ClientCertificate {
            issuer: Some("CN=Some Other CA"),
            ..MC_CERT
        },
        ClientCertificate {
            issuer: None,
            ..MC_CERT
        },
    ];
    for certificate in refused {
        assert_eq!(
            auth.verify(MC, Some(certificate), None, body, 1),
            Err(WebhookAuthError::UnknownClient),
            "{certificate:?}"
        );
    }
}

#[test]
fn a_certificate_not_allowed_may_still_come_with_a_valid_signature() {
    let auth = auth(r#"{"mastercard": ["s"]}"#, "");
    let body = b"{}";
    let header = sign("s", 1, body);
    assert_eq!(
        auth.verify(MC, Some(MC_CERT), Some(&header), body, 1),
        Ok(())
    );
    assert_eq!(
        auth.verify(MC, Some(MC_CERT), Some("t=1,v1=00"), body, 1),
        Err(WebhookAuthError::Mismatch)
    );
}

#[test]
fn settings_come_from_the_configuration_and_blank_ones_are_absent() {
    let env = Env::from_pairs([(
        ALLOWED_SUBJECTS_SETTING,
        " mastercard = CN=a|issuer=CN=ca ; ;MASTERCARD=CN=b|issuer=CN=ca",
    )]);
    let auth = WebhookAuth::from_config(&env, None).unwrap();
    let body = b"{}";
    for subject in ["CN=a", "CN=b"] {
        let cert = ClientCertificate {
            subject,
            issuer: Some("CN=ca"),
        };
        assert_eq!(
            auth.verify(MC, Some(cert), None, body, 1),
            Ok(()),
            "{subject}"
        );
    }
    // No secret: no signature is accepted, not even one made with "".
    for secret in [None, Some(""), Some("  ")] {
        let auth = WebhookAuth::from_config(&Env::from_pairs([("A", "1")]), secret).unwrap();
        assert_eq!(
            auth.verify(MC, None, Some(&sign("", 1, body)), body, 1),
            Err(WebhookAuthError::Mismatch),
            "{secret:?}"
        );
        assert!(format!("{auth:?}").contains("{}"), "{auth:?}");
    }
}

#[test]
fn the_webhook_secret_has_one_shape_and_errors_never_quote_it() {
    for bad in [
        r#"{"mastercard": "hunter2"}"#,
        r#"{"mastercard": []}"#,
        r#"{"mastercard": ["hunter2", "hunter3", "hunter4"]}"#,
        r#"{"mastercard": ["hunter2", " "]}"#,
        r#"{"master card": ["hunter2"]}"#,
        r#"{"mastercard": ["hunter2"], "MASTERCARD": ["hunter3"]}"#,
        r#"["hunter2"]"#,
        "hunter2",
    ] {
        let e = SigningSecrets::from_json(bad).unwrap_err().to_string();
        assert!(e.contains("webhook secret"), "{e}");
        assert!(
            !e.contains("hunter"),
            "{bad}: the error quotes the secret: {e}"
        );
    }
    let secrets = SigningSecrets::from_json(r#"{"mastercard": ["hunter2", "hunter3"]}"#).unwrap();
    let printed = format!("{:?}", WebhookAuth::new(secrets, AllowedClients::default()));
    assert!(!printed.contains("hunter"), "{printed}");
    assert!(printed.contains(r#""mastercard": 2"#), "{printed}");
}

#[test]
fn allowed_subjects_name_their_network_subject_and_issuer() {
    let parsed = AllowedClients::parse("mastercard=CN=x,O=Y|issuer=CN=Z,O=Y").unwrap();
    assert_eq!(
        parsed,
        AllowedClients(vec![AllowedClient {
            network: "mastercard".into(),
            subject: "CN=x,O=Y".into(),
            issuer: "CN=Z,O=Y".into()
        }])
    );
    assert_eq!(
        AllowedClients::parse(" ; ").unwrap(),
        AllowedClients::default()
    );
    for bad in [
        "CN=clearing.mastercard.com",
        "mastercard=CN=x",
        "mastercard=CN=x|issuer=",
        "mastercard=|issuer=CN=Z",
        "=CN=x|issuer=CN=Z",
    ] {
        let e = AllowedClients::parse(bad).unwrap_err().to_string();
        assert!(e.contains(ALLOWED_SUBJECTS_SETTING), "{e}");
    }
}

#[test]
fn the_current_secret_is_the_first() {
    let text = r#"{"mastercard": ["new", "old"]}"#;
    assert_eq!(current_secret(text, MC).unwrap(), "new");
    assert!(current_secret(text, "visa").is_err());
}
