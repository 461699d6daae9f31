//! An in-process sealer for tests (feature `testkit`): KMS's behaviour
//! without KMS. Sealed bytes never contain the plaintext, open only for the
//! AccessKey id they were sealed for (anything else is
//! [`SealerError::Undecryptable`]), and differ each time the same secret is
//! sealed. It counts its calls, so a test can prove what reached "KMS", and
//! fails on demand.
//!
//! Not cryptography to rely on: a SHA-256 keystream and tag under a random
//! per-instance key, just enough that a test cannot pass by accident.

use super::{SealerError, Secret, SecretSealer};
use crate::domain::access_key::AccessKeyId;
use sha2::{Digest, Sha256};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

const MAGIC: &[u8; 4] = b"MSL1";
const TAG_LEN: usize = 16;

pub struct MemorySealer {
    key: [u8; 32],
    next_nonce: AtomicU64,
    seals: AtomicUsize,
    opens: AtomicUsize,
    failure: Mutex<Option<SealerError>>,
}

impl Default for MemorySealer {
    fn default() -> Self {
        Self::new()
    }
}

impl MemorySealer {
    pub fn new() -> Self {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the OS's random source");
        MemorySealer {
            key,
            next_nonce: AtomicU64::new(1),
            seals: AtomicUsize::new(0),
            opens: AtomicUsize::new(0),
            failure: Mutex::new(None),
        }
    }

    /// Calls of [`SecretSealer::seal`] so far (failed ones included).
    pub fn seals(&self) -> usize {
        self.seals.load(Ordering::SeqCst)
    }

    /// Calls of [`SecretSealer::open`] so far (failed ones included): the
    /// `Decrypt`s a real KMS would have been sent.
    pub fn opens(&self) -> usize {
        self.opens.load(Ordering::SeqCst)
    }

    /// From now on every call fails with `failure`; `None` heals it.
    pub fn fail_with(&self, failure: Option<SealerError>) {
        *self.failure.lock().expect("sealer lock") = failure;
    }

    fn failure(&self) -> Result<(), SealerError> {
        match self.failure.lock().expect("sealer lock").clone() {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }

    fn keystream(&self, key: &AccessKeyId, nonce: &[u8], len: usize) -> Vec<u8> {
        (0u64..)
            .flat_map(|block| {
                Sha256::new()
                    .chain_update(self.key)
                    .chain_update(b"stream")
                    .chain_update(key.as_str())
                    .chain_update(nonce)
                    .chain_update(block.to_be_bytes())
                    .finalize()
            })
            .take(len)
            .collect()
    }

    fn tag(&self, key: &AccessKeyId, nonce: &[u8], ciphertext: &[u8]) -> [u8; TAG_LEN] {
        let digest = Sha256::new()
            .chain_update(self.key)
            .chain_update(b"tag")
            .chain_update(key.as_str())
            .chain_update(nonce)
            .chain_update(ciphertext)
            .finalize();
        digest[..TAG_LEN].try_into().expect("16 bytes")
    }
}

impl SecretSealer for MemorySealer {
    async fn seal(&self, key: &AccessKeyId, plaintext: &[u8]) -> Result<Vec<u8>, SealerError> {
        self.seals.fetch_add(1, Ordering::SeqCst);
        self.failure()?;
        let nonce = self.next_nonce.fetch_add(1, Ordering::SeqCst).to_be_bytes();
        let stream = self.keystream(key, &nonce, plaintext.len());
        let ciphertext: Vec<u8> = plaintext.iter().zip(stream).map(|(p, k)| p ^ k).collect();
        let mut sealed = MAGIC.to_vec();
        sealed.extend(nonce);
        sealed.extend(&ciphertext);
        sealed.extend(self.tag(key, &nonce, &ciphertext));
        Ok(sealed)
    }

    async fn open(&self, key: &AccessKeyId, sealed: &[u8]) -> Result<Secret, SealerError> {
        self.opens.fetch_add(1, Ordering::SeqCst);
        // As a network call would, let other tasks run meanwhile.
        tokio::task::yield_now().await;
        self.failure()?;
        let undecryptable =
            || SealerError::Undecryptable("not sealed by this sealer for this key".into());
        let body = sealed
            .strip_prefix(MAGIC)
            .filter(|b| b.len() >= 8 + TAG_LEN)
            .ok_or_else(undecryptable)?;
        let (nonce, rest) = body.split_at(8);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        if self.tag(key, nonce, ciphertext) != tag {
            return Err(undecryptable());
        }
        let stream = self.keystream(key, nonce, ciphertext.len());
        Ok(Secret::new(
            ciphertext.iter().zip(stream).map(|(c, k)| c ^ k).collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sealed_bytes_hide_the_secret_and_open_only_for_their_key() {
        let sealer = MemorySealer::new();
        let (a, b) = (
            AccessKeyId::parse("RTCU0000000000000000000A").unwrap(),
            AccessKeyId::parse("RTCU0000000000000000000B").unwrap(),
        );
        let secret = b"abcdefghijklmnopqrstuvwxyz0123";
        let sealed = sealer.seal(&a, secret).await.unwrap();
        assert!(!sealed.windows(4).any(|w| secret.windows(4).any(|s| s == w)));
        assert_ne!(
            sealed,
            sealer.seal(&a, secret).await.unwrap(),
            "fresh each time"
        );
        assert_eq!(sealer.open(&a, &sealed).await.unwrap().expose(), secret);
        assert!(matches!(
            sealer.open(&b, &sealed).await,
            Err(SealerError::Undecryptable(_))
        ));
        let mut damaged = sealed.clone();
        damaged[12] ^= 1;
        assert!(matches!(
            sealer.open(&a, &damaged).await,
            Err(SealerError::Undecryptable(_))
        ));
        assert!(matches!(
            MemorySealer::new().open(&a, &sealed).await,
            Err(SealerError::Undecryptable(_))
        ));
        assert_eq!((sealer.seals(), sealer.opens()), (2, 3));
    }
}
