//! The private mode's oblivious PRF (RFC 9497, VOPRF, ristretto255-SHA512) for the bindings' own
//! known-answer tests and benchmarks: thin shells over `contactsync_core::oprf`.
//!
//! An app never needs these: `Engine::sync` blinds, verifies and unblinds by itself. They exist so
//! that Kotlin and Swift can prove the RFC's vectors through the real library (`blind_known`,
//! `evaluate_known`: the vectors' blinds and proof scalars given explicitly), and time what a
//! device pays per identifier with one crossing per batch, as the engine works (`blind`, then
//! `finalize`). `OprfServerKey` is the server's half, there only to answer those batches.

use std::sync::Arc;

use contactsync_core::oprf::{
    self as core_oprf, Blinded, Element, OprfError, PROOF_LEN, PublicKey, SecretKey,
    known_answer::{self, SCALAR_LEN},
};
use rand_core::OsRng;

use crate::error::{ContactsyncError, Result};
use crate::types::Identifier;

/// A failed proof is the server's fault (`Protocol`, as a sync reports it); anything else is
/// bytes the caller gave.
fn failure(e: &OprfError) -> ContactsyncError {
    match e {
        OprfError::Proof => ContactsyncError::Protocol {
            detail: e.to_string(),
        },
        _ => ContactsyncError::InvalidArgument {
            detail: e.to_string(),
        },
    }
}

/// Fixed-size byte arrays from the foreign side's byte lists, or `InvalidArgument`.
fn arrays<const N: usize>(what: &str, items: &[Vec<u8>]) -> Result<Vec<[u8; N]>> {
    items
        .iter()
        .map(|b| {
            b.as_slice()
                .try_into()
                .map_err(|_| ContactsyncError::InvalidArgument {
                    detail: format!("each {what} must be {N} bytes"),
                })
        })
        .collect()
}

fn elements(items: &[Vec<u8>]) -> Result<Vec<Element>> {
    Ok(arrays::<{ core_oprf::ELEMENT_LEN }>("element", items)?
        .into_iter()
        .map(Element)
        .collect())
}

fn to_lists(items: &[Element]) -> Vec<Vec<u8>> {
    items.iter().map(|e| e.0.to_vec()).collect()
}

/// A server's answer to a batch: the evaluated elements in order, and one proof (64 bytes) per
/// 256 elements.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct OprfEvaluation {
    /// The evaluated elements (32 bytes each).
    pub evaluated: Vec<Vec<u8>>,
    /// The batch proofs (64 bytes each), one per slice of 256 elements.
    pub proofs: Vec<Vec<u8>>,
}

/// A batch of blinded identifiers waiting for the server's evaluation. It holds the blinds, so
/// it stays on the device.
#[derive(Debug, uniffi::Object)]
pub struct OprfBatch(Blinded);

#[uniffi::export]
impl OprfBatch {
    /// Blinds `identifiers` and pads the batch with dummies to `padded_len` elements, on all
    /// cores, as a sync does (fresh random blinds).
    #[uniffi::constructor]
    pub fn blind(identifiers: Vec<Identifier>, padded_len: u32) -> Result<Arc<Self>> {
        let ids: Vec<_> = identifiers
            .iter()
            .map(|i| (i.kind, i.canonical.as_str()))
            .collect();
        Blinded::new(&ids, padded_len as usize)
            .map(|b| Arc::new(OprfBatch(b)))
            .map_err(|e| failure(&e))
    }

    /// Known answers: blinds raw PRF `inputs` with the given `blinds` (32-byte scalars, one
    /// each), without padding — RFC 9497's `Blind` with its test vectors' blinds.
    #[uniffi::constructor]
    pub fn blind_known(inputs: Vec<Vec<u8>>, blinds: Vec<Vec<u8>>) -> Result<Arc<Self>> {
        let blinds = arrays::<SCALAR_LEN>("blind", &blinds)?;
        known_answer::blind_with(&inputs, &blinds)
            .map(|b| Arc::new(OprfBatch(b)))
            .map_err(|e| failure(&e))
    }

    /// The blinded elements to send (32 bytes each), dummies included.
    pub fn elements(&self) -> Vec<Vec<u8>> {
        to_lists(self.0.elements())
    }

    /// How many of the elements are real (the rest are padding).
    pub fn real(&self) -> u32 {
        u32::try_from(self.0.real()).unwrap_or(u32::MAX)
    }

    /// Verifies the server's proofs against `public_key` and unblinds: the 64-byte PRF values
    /// of the real inputs, in order. A proof that fails is `Protocol`, and gives nothing.
    pub fn finalize(
        &self,
        public_key: Vec<u8>,
        evaluated: Vec<Vec<u8>>,
        proofs: Vec<Vec<u8>>,
    ) -> Result<Vec<Vec<u8>>> {
        let key = PublicKey::from_bytes(&public_key).map_err(|e| failure(&e))?;
        let proofs = arrays::<PROOF_LEN>("proof", &proofs)?;
        let values = self
            .0
            .finalize(&key, &elements(&evaluated)?, &proofs)
            .map_err(|e| failure(&e))?;
        Ok(values.into_iter().map(|v| v.0.to_vec()).collect())
    }
}

/// The server's secret key of one epoch: the other half of [`OprfBatch`] for tests and
/// benchmarks. An app never holds one.
#[derive(Debug, uniffi::Object)]
pub struct OprfServerKey(SecretKey);

#[uniffi::export]
impl OprfServerKey {
    /// A key from its 32 bytes (a scalar).
    #[uniffi::constructor]
    pub fn from_bytes(secret: Vec<u8>) -> Result<Arc<Self>> {
        SecretKey::from_bytes(&secret)
            .map(|k| Arc::new(OprfServerKey(k)))
            .map_err(|e| failure(&e))
    }

    /// A fresh random key.
    #[uniffi::constructor]
    pub fn generate() -> Result<Arc<Self>> {
        SecretKey::generate(&mut OsRng)
            .map(|k| Arc::new(OprfServerKey(k)))
            .map_err(|e| failure(&e))
    }

    /// The public key (32 bytes), as `GET /v1/config` publishes it.
    pub fn public_key(&self) -> Vec<u8> {
        self.0.public_key().to_bytes().to_vec()
    }

    /// Evaluates a batch of blinded elements with fresh proof scalars, as the server does.
    pub fn evaluate(&self, elements: Vec<Vec<u8>>) -> Result<OprfEvaluation> {
        let answer = self
            .0
            .evaluate_batch(&self::elements(&elements)?, &mut OsRng)
            .map_err(|e| failure(&e))?;
        Ok(evaluation(answer))
    }

    /// Known answers: evaluates with the given proof scalars (32 bytes, one per 256 elements) —
    /// RFC 9497's `BlindEvaluateBatch` with its test vectors' random scalar.
    pub fn evaluate_known(
        &self,
        elements: Vec<Vec<u8>>,
        proof_scalars: Vec<Vec<u8>>,
    ) -> Result<OprfEvaluation> {
        let scalars = arrays::<SCALAR_LEN>("proof scalar", &proof_scalars)?;
        let answer = known_answer::evaluate_with(&self.0, &self::elements(&elements)?, &scalars)
            .map_err(|e| failure(&e))?;
        Ok(evaluation(answer))
    }
}

fn evaluation((evaluated, proofs): (Vec<Element>, Vec<[u8; PROOF_LEN]>)) -> OprfEvaluation {
    OprfEvaluation {
        evaluated: to_lists(&evaluated),
        proofs: proofs.iter().map(|p| p.to_vec()).collect(),
    }
}
