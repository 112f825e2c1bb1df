//! Deterministic entry points for known-answer tests of the OPRF: RFC 9497's vectors give the
//! blinds and the proofs' random scalars, which the everyday functions draw from the operating
//! system. These take them explicitly, so the vectors can be checked through any layer — the
//! core's tests, and the bindings' from Kotlin and Swift (`OprfBatch.blindKnown`,
//! `OprfServerKey.evaluateKnown`).
//!
//! They compute exactly what [`Blinded::with_rng`] and [`SecretKey::evaluate_batch`] compute (the
//! same code, fed a scripted generator), on raw PRF inputs rather than identifiers (the RFC's
//! inputs are bytes). Nothing in a sync calls them: a fixed blind would link requests.

use std::collections::VecDeque;

use rand_core::{CryptoRng, Error as RandError, RngCore};
use voprf::{Group, Ristretto255};

use super::{Blinded, Element, MAX_BATCH, OprfError, PROOF_LEN, SecretKey, proofs_for};

/// Bytes of a serialised scalar (a blind, a proof's random scalar).
pub const SCALAR_LEN: usize = 32;

/// Blinds raw PRF `inputs` with the given `blinds` (one canonical, non-zero scalar each), one
/// thread, no padding: RFC 9497's `Blind` with its vectors' blinds.
pub fn blind_with(inputs: &[Vec<u8>], blinds: &[[u8; SCALAR_LEN]]) -> Result<Blinded, OprfError> {
    if inputs.is_empty() || inputs.len() > MAX_BATCH || blinds.len() != inputs.len() {
        return Err(OprfError::BatchSize);
    }
    let mut rng = Scripted::new(blinds)?;
    let blinded = Blinded::of_inputs(inputs.to_vec(), inputs.len(), &mut rng)?;
    rng.all_drawn()?;
    Ok(blinded)
}

/// Evaluates a batch with the given proof scalars (one per [`super::PROOF_SLICE`] elements):
/// RFC 9497's `BlindEvaluateBatch` with its vectors' random scalar.
pub fn evaluate_with(
    key: &SecretKey,
    elements: &[Element],
    proof_scalars: &[[u8; SCALAR_LEN]],
) -> Result<(Vec<Element>, Vec<[u8; PROOF_LEN]>), OprfError> {
    if proof_scalars.len() != proofs_for(elements.len()) {
        return Err(OprfError::BatchSize);
    }
    let mut rng = Scripted::new(proof_scalars)?;
    let answer = key.evaluate_batch(elements, &mut rng)?;
    rng.all_drawn()?;
    Ok(answer)
}

/// A generator that hands out scripted scalars: each draw (64 bytes, which a random
/// ristretto255 scalar takes and reduces mod ℓ) is the next scalar followed by zeros, so the
/// draw *is* that scalar.
///
/// Every scalar is checked canonical and non-zero first: `voprf` draws again while it gets zero,
/// which a scripted zero would turn into an endless loop. A draw past the script gets a fixed
/// non-zero scalar (no panic in library code) and is reported by [`Scripted::all_drawn`].
struct Scripted {
    scalars: VecDeque<[u8; SCALAR_LEN]>,
    overdrawn: bool,
}

impl Scripted {
    fn new(scalars: &[[u8; SCALAR_LEN]]) -> Result<Scripted, OprfError> {
        for scalar in scalars {
            Ristretto255::deserialize_scalar(scalar)
                .map_err(|_| OprfError::Encoding { what: "scalar" })?;
        }
        Ok(Scripted {
            scalars: scalars.iter().copied().collect(),
            overdrawn: false,
        })
    }

    /// Every scalar was drawn, and no more: the result is the vectors' and nothing else's.
    fn all_drawn(&self) -> Result<(), OprfError> {
        if self.overdrawn || !self.scalars.is_empty() {
            return Err(OprfError::BatchSize);
        }
        Ok(())
    }
}

impl RngCore for Scripted {
    fn next_u32(&mut self) -> u32 {
        self.overdrawn = true;
        1
    }

    fn next_u64(&mut self) -> u64 {
        self.overdrawn = true;
        1
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        dest.fill(0);
        let Some(scalar) = self.scalars.pop_front() else {
            self.overdrawn = true;
            if let Some(first) = dest.first_mut() {
                *first = 1;
            }
            return;
        };
        let n = scalar.len().min(dest.len());
        dest[..n].copy_from_slice(&scalar[..n]);
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), RandError> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for Scripted {}
