//! The private discovery mode's hashing: an oblivious PRF of identifiers (RFC 9497, VOPRF mode,
//! ristretto255-SHA512), and the filter of the users' PRF values that clients query locally
//! ([`filter`]).
//!
//! Stage: beside `hash`, below the contact model. May import `error` and `identifier`; never the
//! store, the protocol messages or anything above (crate docs: the one-way flow).
//!
//! **Why an OPRF.** In the keyed-hash mode the server holds the key, so it can hash a whole
//! numbering plan and read every uploaded book back. Here the client *blinds* each identifier
//! (a random scalar times a point derived from it), the server multiplies by its secret key
//! without learning the point, and the client unblinds: it ends with `F(key, identifier)` while
//! the server saw only uniformly random group elements. The server learns nothing per contact;
//! the client cannot compute `F` for identifiers it did not ask about (each costs an
//! evaluation the server counts).
//!
//! **Why verifiable.** Every evaluation comes with a batch proof (a DLEQ proof) that it used the
//! key whose public half `GET /v1/config` publishes. A server that used a per-client key (to tag
//! or segment users) would fail the proof; the client refuses the answer.
//!
//! **The input** is `"contactsync-oprf-v1" ‖ 0x00 ‖ kind ‖ 0x00 ‖ canonical`, the keyed-hash
//! mode's encoding under another context string, so the two modes never share a value.
//!
//! **The output** (64 bytes, SHA-512) is split, never hashed again: its first 8 bytes are the
//! [`Tag`] the filter holds, the next 16 the [`Lookup`] a client sends to learn a hit's user.
//! They are disjoint parts of one PRF output, so sending a lookup reveals nothing of the tag.

pub mod filter;
pub mod known_answer;

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::{CryptoRng, OsRng, RngCore};
use thiserror::Error;
use voprf::{
    BlindedElement, EvaluationElement, Group, Proof, Ristretto255, VoprfClient, VoprfServer,
    VoprfServerBatchEvaluateResult,
};

/// The group's element type (a ristretto255 point).
type Point = <Ristretto255 as Group>::Elem;

use crate::identifier::IdentifierKind;

/// The RFC 9497 cipher suite, as `GET /v1/config` names it.
pub const SUITE: &str = "ristretto255-SHA512";
/// The context string that starts every PRF input.
pub const CONTEXT: &str = "contactsync-oprf-v1";
/// Bytes of a serialised group element (a blinded or an evaluated element, a public key).
pub const ELEMENT_LEN: usize = 32;
/// Bytes of a serialised batch proof (two scalars).
pub const PROOF_LEN: usize = 64;
/// Bytes of a serialised secret key (a scalar).
pub const SECRET_KEY_LEN: usize = 32;
/// Bytes of a [`Lookup`].
pub const LOOKUP_LEN: usize = 16;
/// The most elements one batch may hold: RFC 9497's batch proof counts them in two bytes.
pub const MAX_BATCH: usize = u16::MAX as usize;
/// Elements one batch proof covers: a batch is proved in consecutive slices of this many (the
/// last may be shorter), one proof each.
///
/// Why not one proof for the batch: checking a proof is the larger part of a client's cost per
/// identifier (two scalar multiplications of the four), and one proof can only be checked on one
/// core. With a proof per 256 elements a phone checks the slices on all its cores, for 64 bytes
/// per slice on the wire (a quarter of a byte per element).
pub const PROOF_SLICE: usize = 256;

/// How many proofs a batch of `n` elements carries.
pub const fn proofs_for(n: usize) -> usize {
    n.div_ceil(PROOF_SLICE)
}

/// The threads a batch's work spreads over: the cores there are, at most 8, and only where each
/// gets at least `min_per_thread` items (a thread costs tens of microseconds to start).
fn threads_for(items: usize, min_per_thread: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    cores.min(8).min(items / min_per_thread.max(1)).max(1)
}

/// Errors of the OPRF stage. Messages never hold values (keys, elements, identifiers).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OprfError {
    /// Bytes that are not a valid group element or scalar of the suite (wrong length, not
    /// canonical, the identity).
    #[error("not a valid {what} of {SUITE}")]
    Encoding {
        /// What was expected: "element", "public key", "proof", "secret key".
        what: &'static str,
    },
    /// The server's batch proof does not verify against the published key: the evaluations
    /// were not made with that key (or were altered). Nothing of the answer may be used.
    #[error("the server's evaluation proof does not verify against the published key")]
    Proof,
    /// A batch with no element, more than [`MAX_BATCH`], or an answer whose count differs from
    /// the request's.
    #[error("an evaluation batch must hold 1 to {MAX_BATCH} elements, as many in the answer")]
    BatchSize,
}

/// The PRF input of an identifier.
fn input(kind: IdentifierKind, canonical: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(CONTEXT.len() + canonical.len() + 12);
    bytes.extend_from_slice(CONTEXT.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(kind.as_str().as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(canonical.as_bytes());
    bytes
}

/// A serialised group element: what a blinded or an evaluated element is on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Element(pub [u8; ELEMENT_LEN]);

impl Element {
    /// Unpadded URL-safe base64, as JSON carries it.
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// An element from its wire bytes (JSON base64 decoded, or a CBOR byte string). The bytes
    /// are checked to be a valid element only where they are used.
    pub fn from_wire(bytes: &[u8]) -> Option<Element> {
        bytes.try_into().ok().map(Element)
    }
}

impl fmt::Debug for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Element(..)")
    }
}

/// The server's public key of one epoch, as `GET /v1/config` publishes it.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    bytes: [u8; ELEMENT_LEN],
}

impl PublicKey {
    /// A public key from its 32 bytes; refused unless it is a valid, non-identity element.
    pub fn from_bytes(bytes: &[u8]) -> Result<PublicKey, OprfError> {
        let encoding = OprfError::Encoding { what: "public key" };
        let bytes: [u8; ELEMENT_LEN] = bytes.try_into().map_err(|_| encoding.clone())?;
        // Checked once here, so a bad config fails before any evaluation is asked for.
        decode_point(&bytes).ok_or(encoding)?;
        Ok(PublicKey { bytes })
    }

    /// A public key from unpadded URL-safe base64.
    pub fn from_base64url(text: &str) -> Result<PublicKey, OprfError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| OprfError::Encoding { what: "public key" })?;
        PublicKey::from_bytes(&bytes)
    }

    /// The 32 bytes.
    pub fn to_bytes(&self) -> [u8; ELEMENT_LEN] {
        self.bytes
    }

    /// Unpadded URL-safe base64.
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.bytes)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_base64url())
    }
}

/// A valid, non-identity ristretto255 point from its canonical encoding.
fn decode_point(bytes: &[u8; ELEMENT_LEN]) -> Option<Point> {
    Ristretto255::deserialize_elem(bytes).ok()
}

/// The PRF value of one identifier: `F(key, input)`, 64 bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct PrfOutput(pub [u8; 64]);

impl PrfOutput {
    /// The filter's key for this value: its first 8 bytes.
    pub fn tag(&self) -> Tag {
        let mut first = [0; 8];
        first.copy_from_slice(&self.0[..8]);
        Tag(u64::from_le_bytes(first))
    }

    /// What a client sends to learn the user behind a filter hit: bytes 8 to 24.
    pub fn lookup(&self) -> Lookup {
        let mut bytes = [0; LOOKUP_LEN];
        bytes.copy_from_slice(&self.0[8..8 + LOOKUP_LEN]);
        Lookup(bytes)
    }
}

impl fmt::Debug for PrfOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrfOutput(..)")
    }
}

/// The part of a PRF value the users' filter holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(pub u64);

/// The part of a PRF value a client sends to ask which user a filter hit is.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Lookup(pub [u8; LOOKUP_LEN]);

impl Lookup {
    /// Unpadded URL-safe base64 (22 characters), as JSON carries it.
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// A lookup from its wire bytes.
    pub fn from_wire(bytes: &[u8]) -> Option<Lookup> {
        bytes.try_into().ok().map(Lookup)
    }
}

impl fmt::Debug for Lookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Lookup(..)")
    }
}

/// A client's batch of blinded identifiers, padded with dummies, waiting for the server's
/// evaluation. Holds the blinds: it never leaves the device and is dropped after finalising.
pub struct Blinded {
    /// The PRF inputs, the real identifiers' first: finalising hashes each into its output.
    inputs: Vec<Vec<u8>>,
    /// One blind state per input.
    states: Vec<VoprfClient<Ristretto255>>,
    elements: Vec<Element>,
    real: usize,
}

impl Blinded {
    /// Blinds `identifiers` and pads the batch to `padded_len` with dummies (blinds of random
    /// inputs: uniformly random elements, like every real one, so neither the server nor an
    /// observer can tell them apart). `padded_len` below the count means no padding.
    ///
    /// The blinds come from the operating system's generator, one per thread: a large batch is
    /// blinded on all cores (each blind is a hash to the group and a scalar multiplication).
    pub fn new<S: AsRef<str>>(
        identifiers: &[(IdentifierKind, S)],
        padded_len: usize,
    ) -> Result<Blinded, OprfError> {
        let inputs = padded_inputs(identifiers, padded_len, &mut OsRng)?;
        let threads = threads_for(inputs.len(), 32);
        let chunk = inputs.len().div_ceil(threads);
        let parts: Vec<Result<BlindPart, OprfError>> = std::thread::scope(|scope| {
            let workers: Vec<_> = inputs
                .chunks(chunk)
                .map(|slice| scope.spawn(move || blind_all(slice, &mut OsRng)))
                .collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join()
                        .unwrap_or(Err(OprfError::Encoding { what: "element" }))
                })
                .collect()
        });
        let mut elements = Vec::with_capacity(inputs.len());
        let mut states = Vec::with_capacity(inputs.len());
        for part in parts {
            let (e, s) = part?;
            elements.extend(e);
            states.extend(s);
        }
        Ok(Blinded {
            inputs,
            states,
            elements,
            real: identifiers.len(),
        })
    }

    /// [`Blinded::new`] on one thread with the caller's generator: for known-answer tests,
    /// which script the blinds.
    pub fn with_rng<R: RngCore + CryptoRng, S: AsRef<str>>(
        identifiers: &[(IdentifierKind, S)],
        padded_len: usize,
        rng: &mut R,
    ) -> Result<Blinded, OprfError> {
        let inputs = padded_inputs(identifiers, padded_len, rng)?;
        Blinded::of_inputs(inputs, identifiers.len(), rng)
    }

    fn of_inputs<R: RngCore + CryptoRng>(
        inputs: Vec<Vec<u8>>,
        real: usize,
        rng: &mut R,
    ) -> Result<Blinded, OprfError> {
        let (elements, states) = blind_all(&inputs, rng)?;
        Ok(Blinded {
            inputs,
            states,
            elements,
            real,
        })
    }

    /// The blinded elements to send, real and dummy mixed as the wire carries them.
    pub fn elements(&self) -> &[Element] {
        &self.elements
    }

    /// Verifies the server's answer against `key` and unblinds it: the PRF values of the real
    /// identifiers, in their order. `proofs` holds one proof per [`PROOF_SLICE`] elements; the
    /// slices are checked on all cores. A wrong count or any proof that fails yields nothing.
    pub fn finalize(
        &self,
        key: &PublicKey,
        evaluated: &[Element],
        proofs: &[[u8; PROOF_LEN]],
    ) -> Result<Vec<PrfOutput>, OprfError> {
        if evaluated.len() != self.elements.len() || proofs.len() != proofs_for(evaluated.len()) {
            return Err(OprfError::BatchSize);
        }
        let public = decode_point(&key.bytes).ok_or(OprfError::Encoding { what: "public key" })?;
        let slices = proofs.len();
        let threads = threads_for(slices, 1);
        let per_thread = slices.div_ceil(threads) * PROOF_SLICE;
        let parts: Vec<Result<Vec<PrfOutput>, OprfError>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    let start = (t * per_thread).min(evaluated.len());
                    let end = ((t + 1) * per_thread).min(evaluated.len());
                    let first_proof = start / PROOF_SLICE;
                    scope.spawn(move || {
                        let mut out = Vec::with_capacity(end - start);
                        for (i, from) in (start..end).step_by(PROOF_SLICE).enumerate() {
                            let to = (from + PROOF_SLICE).min(end);
                            out.extend(finalize_slice(
                                &self.inputs[from..to],
                                &self.states[from..to],
                                &evaluated[from..to],
                                &proofs[first_proof + i],
                                public,
                            )?);
                        }
                        Ok(out)
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap_or(Err(OprfError::Proof)))
                .collect()
        });
        let mut all = Vec::with_capacity(evaluated.len());
        for part in parts {
            all.extend(part?);
        }
        all.truncate(self.real);
        Ok(all)
    }

    /// How many of the elements are real identifiers (the rest are dummies).
    pub fn real(&self) -> usize {
        self.real
    }
}

/// The PRF inputs of `identifiers`, then random dummies up to `padded_len`.
fn padded_inputs<R: RngCore + CryptoRng, S: AsRef<str>>(
    identifiers: &[(IdentifierKind, S)],
    padded_len: usize,
    rng: &mut R,
) -> Result<Vec<Vec<u8>>, OprfError> {
    let total = padded_len.max(identifiers.len());
    if identifiers.is_empty() || total > MAX_BATCH {
        return Err(OprfError::BatchSize);
    }
    let mut inputs: Vec<Vec<u8>> = identifiers
        .iter()
        .map(|(kind, canonical)| input(*kind, canonical.as_ref()))
        .collect();
    inputs.resize_with(total, || {
        let mut dummy = vec![0; 32];
        rng.fill_bytes(&mut dummy);
        dummy
    });
    Ok(inputs)
}

/// A run of blinded inputs: the elements for the wire and the states for finalising.
type BlindPart = (Vec<Element>, Vec<VoprfClient<Ristretto255>>);

/// Blinds each input: its element for the wire and its state for finalising.
fn blind_all<R: RngCore + CryptoRng>(
    inputs: &[Vec<u8>],
    rng: &mut R,
) -> Result<BlindPart, OprfError> {
    let mut states = Vec::with_capacity(inputs.len());
    let mut elements = Vec::with_capacity(inputs.len());
    for bytes in inputs {
        // Only an empty or over-long input fails, and no input here is either.
        let blinded = VoprfClient::<Ristretto255>::blind(bytes, rng)
            .map_err(|_| OprfError::Encoding { what: "element" })?;
        elements.push(element_bytes(&blinded.message.serialize()));
        states.push(blinded.state);
    }
    Ok((elements, states))
}

/// Checks one slice's proof and unblinds its elements (dummies included: the caller keeps the
/// real ones).
fn finalize_slice(
    inputs: &[Vec<u8>],
    states: &[VoprfClient<Ristretto255>],
    evaluated: &[Element],
    proof: &[u8; PROOF_LEN],
    public: Point,
) -> Result<Vec<PrfOutput>, OprfError> {
    let proof = Proof::<Ristretto255>::deserialize(proof)
        .map_err(|_| OprfError::Encoding { what: "proof" })?;
    let evaluated = evaluated
        .iter()
        .map(|e| {
            EvaluationElement::<Ristretto255>::deserialize(&e.0)
                .map_err(|_| OprfError::Encoding { what: "element" })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (inputs, states) = (Slice(inputs), Slice(states));
    let outputs = VoprfClient::batch_finalize(&inputs, &states, &evaluated, &proof, public)
        .map_err(|_| OprfError::Proof)?;
    outputs
        .map(|output| {
            // Each output fails only for an empty or over-long input, which none is.
            let output = output.map_err(|_| OprfError::Proof)?;
            let mut bytes = [0; 64];
            bytes.copy_from_slice(&output[..64]);
            Ok(PrfOutput(bytes))
        })
        .collect()
}

/// A borrowed slice as `voprf`'s batch calls take it: they want `&I` where `I` is sized and
/// `&I` iterates, which a `Vec` is but a sub-slice is not (this avoids copying each slice).
struct Slice<'s, T>(&'s [T]);

impl<'a, T> IntoIterator for &'a Slice<'_, T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

fn element_bytes(bytes: &[u8]) -> Element {
    let mut out = [0; ELEMENT_LEN];
    out.copy_from_slice(&bytes[..ELEMENT_LEN]);
    Element(out)
}

/// The server's secret key of one epoch.
pub struct SecretKey {
    server: VoprfServer<Ristretto255>,
}

impl SecretKey {
    /// A fresh random key.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Result<SecretKey, OprfError> {
        let server =
            VoprfServer::new(rng).map_err(|_| OprfError::Encoding { what: "secret key" })?;
        Ok(SecretKey { server })
    }

    /// A key from its 32 stored bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<SecretKey, OprfError> {
        let server = VoprfServer::new_with_key(bytes)
            .map_err(|_| OprfError::Encoding { what: "secret key" })?;
        Ok(SecretKey { server })
    }

    /// The 32 bytes to store (the server's database; never sent).
    pub fn to_bytes(&self) -> [u8; SECRET_KEY_LEN] {
        let mut out = [0; SECRET_KEY_LEN];
        out.copy_from_slice(&self.server.serialize()[..SECRET_KEY_LEN]);
        out
    }

    /// The public half, for `GET /v1/config`.
    pub fn public_key(&self) -> PublicKey {
        let mut bytes = [0; ELEMENT_LEN];
        bytes.copy_from_slice(&Ristretto255::serialize_elem(self.server.get_public_key()));
        PublicKey { bytes }
    }

    /// Evaluates a client's batch: the evaluated elements in order, and one proof per
    /// [`PROOF_SLICE`] elements. An element that is not a valid point refuses the whole batch.
    /// One thread: a server runs many requests at once, which already fill its cores.
    pub fn evaluate_batch<R: RngCore + CryptoRng>(
        &self,
        elements: &[Element],
        rng: &mut R,
    ) -> Result<(Vec<Element>, Vec<[u8; PROOF_LEN]>), OprfError> {
        if elements.is_empty() || elements.len() > MAX_BATCH {
            return Err(OprfError::BatchSize);
        }
        let blinded = elements
            .iter()
            .map(|e| {
                BlindedElement::<Ristretto255>::deserialize(&e.0)
                    .map_err(|_| OprfError::Encoding { what: "element" })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut evaluated = Vec::with_capacity(elements.len());
        let mut proofs = Vec::with_capacity(proofs_for(elements.len()));
        for slice in blinded.chunks(PROOF_SLICE) {
            let VoprfServerBatchEvaluateResult { messages, proof } = self
                .server
                .batch_blind_evaluate(rng, &Slice(slice))
                .map_err(|_| OprfError::BatchSize)?;
            evaluated.extend(messages.iter().map(|m| element_bytes(&m.serialize())));
            let mut proof_bytes = [0; PROOF_LEN];
            proof_bytes.copy_from_slice(&proof.serialize()[..PROOF_LEN]);
            proofs.push(proof_bytes);
        }
        Ok((evaluated, proofs))
    }

    /// The PRF value of an identifier the server knows in the clear: a registered user's.
    pub fn evaluate(&self, kind: IdentifierKind, canonical: &str) -> Result<PrfOutput, OprfError> {
        self.evaluate_input(&input(kind, canonical))
    }

    fn evaluate_input(&self, input: &[u8]) -> Result<PrfOutput, OprfError> {
        let output = self
            .server
            .evaluate(input)
            .map_err(|_| OprfError::Encoding { what: "element" })?;
        let mut bytes = [0; 64];
        bytes.copy_from_slice(&output[..64]);
        Ok(PrfOutput(bytes))
    }
}

impl fmt::Debug for Blinded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blinded({} of {} real)", self.real, self.elements.len())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(public {})", self.public_key().to_base64url())
    }
}

#[cfg(test)]
mod tests;
