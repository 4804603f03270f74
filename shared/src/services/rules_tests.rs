use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::adapters::memory::MemoryStore;
use crate::events::RULES_CHANGED;

const NO_TIPS: &str = r#"{"tolerances": [], "fx_variance_percent": "3"}"#;

fn service() -> (Arc<MemoryStore>, RulesService) {
    let store = Arc::new(MemoryStore::new());
    let service = RulesService {
        store: store.clone(),
        first: RulesVersion::shipped(),
    };
    (store, service)
}

fn now() -> DateTime<Utc> {
    "2026-11-23T12:00:00Z".parse().unwrap()
}

#[tokio::test]
async fn before_any_change_the_deployments_rules_are_version_one() {
    let (store, service) = service();
    assert_eq!(service.current().await.unwrap(), RulesVersion::shipped());
    let versions = service.versions(None, 10).await.unwrap();
    assert_eq!(versions, vec![RulesVersion::shipped()]);
    assert!(service.versions(Some(1), 10).await.unwrap().is_empty());
    // Reading stores nothing and announces nothing.
    assert!(store.current_rules().await.unwrap().is_none());
    assert!(store.drain_outbox().is_empty());
}

#[tokio::test]
async fn a_change_stores_version_one_then_two_and_announces_the_change() {
    let (store, service) = service();
    let v2 = service
        .change(1, NO_TIPS, "operator:ana", "tips go to review", now())
        .await
        .unwrap();
    assert_eq!((v2.version, v2.author.as_str()), (2, "operator:ana"));
    assert_eq!(service.current().await.unwrap(), v2);
    let versions = service.versions(None, 10).await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [2, 1]
    );
    assert_eq!(versions[1].rules, RulesVersion::shipped().rules);
    assert_eq!(versions[1].changed_at, now());
    // Paged, newest first.
    let page = service.versions(None, 1).await.unwrap();
    assert_eq!(page[0].version, 2);
    let next = service.versions(Some(2), 1).await.unwrap();
    assert_eq!(next[0].version, 1);

    let events: Vec<_> = store
        .drain_outbox()
        .iter()
        .filter_map(|e| e.as_event())
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].detail_type, RULES_CHANGED);
    let detail: serde_json::Value = serde_json::from_str(&events[0].detail).unwrap();
    assert_eq!(detail["version"], 2);
    assert_eq!(detail["author"], "operator:ana");
    assert_eq!(detail["reason"], "tips go to review");
    assert_eq!(detail["rules"]["tolerances"], serde_json::json!([]));
}

#[tokio::test]
async fn two_editors_of_one_version_one_wins_the_other_is_stale() {
    let (store, service) = service();
    service
        .change(1, NO_TIPS, "a", "first", now())
        .await
        .unwrap();
    let e = service
        .change(1, NO_TIPS, "b", "second", now())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            RulesError::Change(RulesChangeError::Stale {
                expected: 1,
                current: 2
            })
        ),
        "{e}"
    );
    // The loser's write, computed from a stale read, is refused by the store itself.
    let stale_read = RulesVersion::shipped()
        .next(1, NO_TIPS, "c", "late", now())
        .unwrap();
    assert!(!store.add_rules_version(&stale_read, &[]).await.unwrap());
    assert_eq!(service.current().await.unwrap().author, "a");
}

#[tokio::test]
async fn bad_rules_change_nothing() {
    let (store, service) = service();
    let e = service
        .change(1, r#"{"tolerances": 3}"#, "a", "r", now())
        .await
        .unwrap_err();
    assert!(matches!(
        e,
        RulesError::Change(RulesChangeError::Invalid(_))
    ));
    assert_eq!(service.current().await.unwrap().version, 1);
    assert!(store.drain_outbox().is_empty());
}

#[tokio::test]
async fn the_rules_in_force_follow_a_change_once_the_cache_expires() {
    let (_, service) = service();
    let cached = RulesInForce::stored(service.clone(), Duration::from_secs(3600));
    let fresh = RulesInForce::stored(service.clone(), Duration::ZERO);
    assert_eq!(cached.current().await.unwrap().version, 1);
    assert_eq!(fresh.current().await.unwrap().version, 1);
    service.change(1, NO_TIPS, "a", "r", now()).await.unwrap();
    // Within its time the cache keeps the version it read; after it, the new one.
    assert_eq!(cached.current().await.unwrap().version, 1);
    assert_eq!(fresh.current().await.unwrap().version, 2);
}
