//! A function's service built beside the runtime's first poll.
//!
//! Reading secrets is a network round trip (Secrets Manager) plus the SDK's
//! first request set-up. Done before the runtime starts, it delays the first
//! poll of the Runtime API by all of it; spawned instead, it runs while that
//! long poll waits for the first event, and the first invocation awaits the
//! result. The service is still built once per environment and cached; a
//! failure is reported on every invocation (and logged), as a failed init would be.

use std::future::Future;
use std::sync::Mutex;

use tokio::sync::OnceCell;
use tokio::task::JoinHandle;

use crate::config::ConfigError;

/// Yields that let the runtime's connection and poll request go out before
/// the spawned build takes the (single) thread.
const YIELDS_BEFORE_BUILD: usize = 4;

pub struct Deferred<T> {
    task: Mutex<Option<JoinHandle<Result<T, ConfigError>>>>,
    value: OnceCell<Result<T, ConfigError>>,
}

impl<T: Send + 'static> Deferred<T> {
    /// Starts building on the current runtime; nothing runs until the caller yields.
    pub fn spawn<F>(build: F) -> Self
    where
        F: Future<Output = Result<T, ConfigError>> + Send + 'static,
    {
        let task = tokio::spawn(async move {
            for _ in 0..YIELDS_BEFORE_BUILD {
                tokio::task::yield_now().await;
            }
            build.await
        });
        Self {
            task: Mutex::new(Some(task)),
            value: OnceCell::new(),
        }
    }

    /// The built value: the first caller waits for the build, later ones get it at once.
    pub async fn get(&self) -> Result<&T, ConfigError> {
        let result = self
            .value
            .get_or_init(|| async {
                let task = self.task.lock().ok().and_then(|mut t| t.take());
                let Some(task) = task else {
                    return Err(ConfigError("service build already taken".into()));
                };
                let built = task
                    .await
                    .unwrap_or_else(|e| Err(ConfigError(format!("service build failed: {e}"))));
                if let Err(e) = &built {
                    tracing::error!(error = %e, "the function could not be built from its configuration");
                }
                built
            })
            .await;
        result.as_ref().map_err(Clone::clone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn the_value_is_built_once_and_shared() {
        let built = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = built.clone();
        let deferred = Deferred::spawn(async move {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, ConfigError>(42)
        });
        assert_eq!(*deferred.get().await.unwrap(), 42);
        assert_eq!(*deferred.get().await.unwrap(), 42);
        assert_eq!(built.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_failed_build_is_reported_on_every_call() {
        let deferred = Deferred::spawn(async {
            Err::<u8, _>(ConfigError("WEBHOOK_SECRETS_ARN unreadable".into()))
        });
        for _ in 0..2 {
            let e = deferred.get().await.unwrap_err();
            assert!(e.to_string().contains("WEBHOOK_SECRETS_ARN"), "{e}");
        }
    }
}
