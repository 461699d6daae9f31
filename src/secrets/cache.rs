//! Opened secrets, kept for the life of a warm function: each AccessKey's
//! sealed secret is opened (one KMS `Decrypt`) at most once, so a signed
//! request after a key's first costs no KMS call and no KMS latency.
//!
//! An entry is keyed by the AccessKey id *and* the sealed bytes it was
//! opened from: the caller passes the sealed bytes it just read from the
//! store, and any other bytes under the same id (a key issued again under
//! an id, a record restored from a backup) are opened anew, never answered
//! from the old entry. Whether a key may still be used is the store's
//! answer, read on every request; the cache holds only secrets.

use super::{SealerError, Secret, SecretSealer};
use crate::domain::access_key::AccessKeyId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// Keys kept at most. An entry is about half a kilobyte (id, sealed bytes
/// of about 200, the secret), so the cache stays under a megabyte however
/// long a function instance lives: keys come and go over the years (issued,
/// rotated, revoked), and only the bound keeps an instance from holding
/// every key it ever saw. Only keys the store knows reach the cache (a
/// request naming an unknown id is refused before it), and an evicted key
/// costs one more `Decrypt` when it is next used.
pub const DEFAULT_CAPACITY: usize = 1024;

struct Entry {
    sealed: Arc<[u8]>,
    /// Filled once by whichever request opens it first; concurrent
    /// requests for the same key wait for that one `Decrypt`.
    secret: Arc<OnceCell<Arc<Secret>>>,
    /// When it was last looked up, on the cache's own counter.
    used: u64,
}

#[derive(Default)]
struct Entries {
    map: HashMap<AccessKeyId, Entry>,
    clock: u64,
}

pub struct SecretCache<S> {
    sealer: S,
    capacity: usize,
    entries: Mutex<Entries>,
}

impl<S: SecretSealer> SecretCache<S> {
    pub fn new(sealer: S) -> Self {
        Self::with_capacity(sealer, DEFAULT_CAPACITY)
    }

    pub fn with_capacity(sealer: S, capacity: usize) -> Self {
        SecretCache {
            sealer,
            capacity: capacity.max(1),
            entries: Mutex::default(),
        }
    }

    pub fn sealer(&self) -> &S {
        &self.sealer
    }

    /// How many keys are held.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The secret `sealed` holds for `key`: from the cache, or opened (once,
    /// however many requests ask at the same time). A failed open is not
    /// kept: the next request tries again.
    pub async fn secret(
        &self,
        key: &AccessKeyId,
        sealed: &[u8],
    ) -> Result<Arc<Secret>, SealerError> {
        let cell = self.cell(key, sealed);
        cell.get_or_try_init(|| async { self.sealer.open(key, sealed).await.map(Arc::new) })
            .await
            .cloned()
    }

    /// The entry's cell for these sealed bytes, made (evicting the least
    /// recently used entry when full) if there is none.
    fn cell(&self, key: &AccessKeyId, sealed: &[u8]) -> Arc<OnceCell<Arc<Secret>>> {
        let mut entries = self.lock();
        entries.clock += 1;
        let now = entries.clock;
        if let Some(entry) = entries.map.get_mut(key)
            && *entry.sealed == *sealed
        {
            entry.used = now;
            return entry.secret.clone();
        }
        if !entries.map.contains_key(key) && entries.map.len() >= self.capacity {
            let oldest = entries
                .map
                .iter()
                .min_by_key(|(_, entry)| entry.used)
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                entries.map.remove(&oldest);
            }
        }
        let secret = Arc::new(OnceCell::new());
        entries.map.insert(
            key.clone(),
            Entry {
                sealed: sealed.into(),
                secret: secret.clone(),
                used: now,
            },
        );
        secret
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic elsewhere while holding the lock cannot leave an entry
        // half-made (each change is one insert or remove): keep serving.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::memory::MemorySealer;

    fn id(n: u32) -> AccessKeyId {
        AccessKeyId::parse(&format!("RTCU{n:020}")).unwrap()
    }

    #[tokio::test]
    async fn a_second_lookup_makes_no_kms_call() {
        let cache = SecretCache::new(MemorySealer::new());
        let sealed = cache.sealer().seal(&id(1), b"s3cret").await.unwrap();
        let first = cache.secret(&id(1), &sealed).await.unwrap();
        assert_eq!(first.expose(), b"s3cret");
        assert_eq!(cache.sealer().opens(), 1);
        for _ in 0..5 {
            let again = cache.secret(&id(1), &sealed).await.unwrap();
            assert!(Arc::ptr_eq(&first, &again));
        }
        assert_eq!(cache.sealer().opens(), 1, "no further Decrypt");
    }

    #[tokio::test]
    async fn concurrent_first_lookups_open_once() {
        let cache = SecretCache::new(MemorySealer::new());
        let sealed = cache.sealer().seal(&id(1), b"s3cret").await.unwrap();
        let key = id(1);
        let lookups = (0..8).map(|_| cache.secret(&key, &sealed));
        for secret in futures::future::join_all(lookups).await {
            assert_eq!(secret.unwrap().expose(), b"s3cret");
        }
        assert_eq!(cache.sealer().opens(), 1);
    }

    #[tokio::test]
    async fn other_sealed_bytes_under_the_same_id_are_opened_anew() {
        let cache = SecretCache::new(MemorySealer::new());
        let old = cache.sealer().seal(&id(1), b"old").await.unwrap();
        let new = cache.sealer().seal(&id(1), b"new").await.unwrap();
        assert_eq!(cache.secret(&id(1), &old).await.unwrap().expose(), b"old");
        assert_eq!(cache.secret(&id(1), &new).await.unwrap().expose(), b"new");
        assert_eq!(cache.secret(&id(1), &new).await.unwrap().expose(), b"new");
        assert_eq!(cache.sealer().opens(), 2);
        assert_eq!(cache.len(), 1, "one entry per id");
        // Bytes sealed for another id never open under this one.
        let other = cache.sealer().seal(&id(2), b"other").await.unwrap();
        assert!(matches!(
            cache.secret(&id(1), &other).await,
            Err(SealerError::Undecryptable(_))
        ));
    }

    #[tokio::test]
    async fn a_failed_open_is_not_kept() {
        let cache = SecretCache::new(MemorySealer::new());
        let sealed = cache.sealer().seal(&id(1), b"s3cret").await.unwrap();
        cache
            .sealer()
            .fail_with(Some(SealerError::Unavailable("down".into())));
        assert_eq!(
            cache.secret(&id(1), &sealed).await,
            Err(SealerError::Unavailable("down".into()))
        );
        cache.sealer().fail_with(None);
        assert_eq!(
            cache.secret(&id(1), &sealed).await.unwrap().expose(),
            b"s3cret"
        );
        assert_eq!(cache.sealer().opens(), 2);
    }

    #[tokio::test]
    async fn the_least_recently_used_key_goes_when_full() {
        let cache = SecretCache::with_capacity(MemorySealer::new(), 3);
        let mut sealed = Vec::new();
        for n in 0..4 {
            sealed.push(cache.sealer().seal(&id(n), b"s").await.unwrap());
        }
        for n in 0..3 {
            cache.secret(&id(n), &sealed[n as usize]).await.unwrap();
        }
        cache.secret(&id(0), &sealed[0]).await.unwrap(); // 1 is now the oldest
        cache.secret(&id(3), &sealed[3]).await.unwrap();
        assert_eq!((cache.len(), cache.sealer().opens()), (3, 4));
        for n in [0, 2, 3] {
            cache.secret(&id(n), &sealed[n as usize]).await.unwrap();
        }
        assert_eq!(cache.sealer().opens(), 4, "0, 2 and 3 were kept");
        cache.secret(&id(1), &sealed[1]).await.unwrap();
        assert_eq!(cache.sealer().opens(), 5, "1 was evicted");
        assert_eq!(cache.len(), 3);
    }
}
