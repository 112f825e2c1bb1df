//! The OPRF stage against RFC 9497's test vectors (Appendix A.1.2, VOPRF mode,
//! ristretto255-SHA512), and the properties the protocol relies on.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rand_core::OsRng;

use super::*;
use crate::identifier::{Identifier, Region};

/// RFC 9497, Appendix A.1.2: the key every vector of the mode uses.
const SK: &str = "e6f73f344b79b379f1a0dd37e07ff62e38d9f71345ce62ae3a9bc60b04ccd909";
const PK: &str = "c803e2cc6b05fc15064549b5920659ca4a77b2cca6f04f6b357009335476ad4e";

/// One vector: inputs, blinds, blinded and evaluated elements, proof, its random scalar and
/// the outputs (comma-separated lists for a batch).
struct Vector {
    input: &'static str,
    blind: &'static str,
    blinded: &'static str,
    evaluated: &'static str,
    proof: &'static str,
    proof_scalar: &'static str,
    output: &'static str,
}

const VECTORS: [Vector; 3] = [
    // A.1.2.1, batch size 1.
    Vector {
        input: "00",
        blind: "64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706",
        blinded: "863f330cc1a1259ed5a5998a23acfd37fb4351a793a5b3c090b642ddc439b945",
        evaluated: "aa8fa048764d5623868679402ff6108d2521884fa138cd7f9c7669a9a014267e",
        proof: "ddef93772692e535d1a53903db24367355cc2cc78de93b3be5a8ffcc6985dd06\
                6d4346421d17bf5117a2a1ff0fcb2a759f58a539dfbe857a40bce4cf49ec600d",
        proof_scalar: "222a5e897cf59db8145db8d16e597e8facb80ae7d4e26d9881aa6f61d645fc0e",
        output: "b58cfbe118e0cb94d79b5fd6a6dafb98764dff49c14e1770b566e42402da1a7d\
                 a4d8527693914139caee5bd03903af43a491351d23b430948dd50cde10d32b3c",
    },
    // A.1.2.2, batch size 1.
    Vector {
        input: "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
        blind: "64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706",
        blinded: "cc0b2a350101881d8a4cba4c80241d74fb7dcbfde4a61fde2f91443c2bf9ef0c",
        evaluated: "60a59a57208d48aca71e9e850d22674b611f752bed48b36f7a91b372bd7ad468",
        proof: "401a0da6264f8cf45bb2f5264bc31e109155600babb3cd4e5af7d181a2c9dc0a\
                67154fabf031fd936051dec80b0b6ae29c9503493dde7393b722eafdf5a50b02",
        proof_scalar: "222a5e897cf59db8145db8d16e597e8facb80ae7d4e26d9881aa6f61d645fc0e",
        output: "8a9a2f3c7f085b65933594309041fc1898d42d0858e59f90814ae90571a6df60\
                 356f4610bf816f27afdd84f47719e480906d27ecd994985890e5f539e7ea74b6",
    },
    // A.1.2.3, batch size 2.
    Vector {
        input: "00,5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
        blind: "64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706,\
                222a5e897cf59db8145db8d16e597e8facb80ae7d4e26d9881aa6f61d645fc0e",
        blinded: "863f330cc1a1259ed5a5998a23acfd37fb4351a793a5b3c090b642ddc439b945,\
                  90a0145ea9da29254c3a56be4fe185465ebb3bf2a1801f7124bbbadac751e654",
        evaluated: "aa8fa048764d5623868679402ff6108d2521884fa138cd7f9c7669a9a014267e,\
                    cc5ac221950a49ceaa73c8db41b82c20372a4c8d63e5dded2db920b7eee36a2a",
        proof: "cc203910175d786927eeb44ea847328047892ddf8590e723c37205cb74600b0a\
                5ab5337c8eb4ceae0494c2cf89529dcf94572ed267473d567aeed6ab873dee08",
        proof_scalar: "419c4f4f5052c53c45f3da494d2b67b220d02118e0857cdbcf037f9ea84bbe0c",
        output: "b58cfbe118e0cb94d79b5fd6a6dafb98764dff49c14e1770b566e42402da1a7d\
                 a4d8527693914139caee5bd03903af43a491351d23b430948dd50cde10d32b3c,\
                 8a9a2f3c7f085b65933594309041fc1898d42d0858e59f90814ae90571a6df60\
                 356f4610bf816f27afdd84f47719e480906d27ecd994985890e5f539e7ea74b6",
    },
];

fn hex(text: &str) -> Vec<u8> {
    let text: String = text.split_whitespace().collect();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn list(text: &str) -> Vec<Vec<u8>> {
    text.split(',').map(hex).collect()
}

fn scalars(text: &str) -> Vec<[u8; 32]> {
    list(text)
        .into_iter()
        .map(|s| s.try_into().unwrap())
        .collect()
}

fn elements(list_of: &[Vec<u8>]) -> Vec<Element> {
    list_of
        .iter()
        .map(|b| Element::from_wire(b).unwrap())
        .collect()
}

#[test]
fn the_rfc_9497_vectors_hold_for_client_and_server() {
    let key = SecretKey::from_bytes(&hex(SK)).unwrap();
    assert_eq!(key.to_bytes().to_vec(), hex(SK));
    assert_eq!(key.public_key().to_bytes().to_vec(), hex(PK));
    let public = PublicKey::from_bytes(&hex(PK)).unwrap();
    for (n, v) in VECTORS.iter().enumerate() {
        let inputs = list(v.input);
        let count = inputs.len();
        let blinded = known_answer::blind_with(&inputs, &scalars(v.blind)).unwrap();
        assert_eq!(
            blinded.elements(),
            elements(&list(v.blinded)),
            "vector {n}: blinded"
        );

        let (evaluated, proof) =
            known_answer::evaluate_with(&key, blinded.elements(), &scalars(v.proof_scalar))
                .unwrap();
        assert_eq!(
            evaluated,
            elements(&list(v.evaluated)),
            "vector {n}: evaluated"
        );
        assert_eq!(proof.len(), 1, "vector {n}: one slice");
        assert_eq!(proof[0].to_vec(), hex(v.proof), "vector {n}: proof");

        let outputs = blinded.finalize(&public, &evaluated, &proof).unwrap();
        let expected = list(v.output);
        assert_eq!(outputs.len(), count);
        for (i, output) in outputs.iter().enumerate() {
            assert_eq!(output.0.to_vec(), expected[i], "vector {n}: output {i}");
            // The server's own evaluation of a clear input gives the same value.
            assert_eq!(key.evaluate_input(&inputs[i]).unwrap(), *output);
        }
    }
}

fn phone(number: &str) -> (IdentifierKind, String) {
    let i = Identifier::parse(IdentifierKind::Phone, number, Region::new("DE").unwrap()).unwrap();
    (i.kind(), i.canonical().to_owned())
}

#[test]
fn a_padded_batch_gives_the_users_values_and_hides_its_size() {
    let key = SecretKey::generate(&mut OsRng).unwrap();
    let public = key.public_key();
    let book = [phone("+4915112345678"), phone("+4915187654321")];
    let blinded = Blinded::new(&book, 16).unwrap();
    assert_eq!(blinded.elements().len(), 16);
    assert_eq!(blinded.real(), 2);
    let (evaluated, proof) = key.evaluate_batch(blinded.elements(), &mut OsRng).unwrap();
    let outputs = blinded.finalize(&public, &evaluated, &proof).unwrap();
    assert_eq!(outputs.len(), 2);
    for (identifier, output) in book.iter().zip(&outputs) {
        let clear = key.evaluate(identifier.0, &identifier.1).unwrap();
        assert_eq!(clear, *output);
        assert_eq!(clear.tag(), output.tag());
        assert_eq!(clear.lookup(), output.lookup());
    }
    assert_ne!(outputs[0], outputs[1]);
    // A second blinding of the same book sends other elements: nothing links two requests.
    let again = Blinded::new(&book, 16).unwrap();
    assert!(
        again
            .elements()
            .iter()
            .all(|e| !blinded.elements().contains(e))
    );
}

#[test]
fn an_evaluation_under_another_key_or_altered_is_refused() {
    let published = SecretKey::generate(&mut OsRng).unwrap();
    let other = SecretKey::generate(&mut OsRng).unwrap();
    let book = [phone("+4915112345678")];
    let blinded = Blinded::new(&book, 4).unwrap();

    // A server evaluating with a key other than the published one (to tag this client).
    let (evaluated, proof) = other
        .evaluate_batch(blinded.elements(), &mut OsRng)
        .unwrap();
    assert_eq!(
        blinded.finalize(&published.public_key(), &evaluated, &proof),
        Err(OprfError::Proof)
    );

    let (mut evaluated, proof) = published
        .evaluate_batch(blinded.elements(), &mut OsRng)
        .unwrap();
    // One element swapped for another valid one: the batch proof no longer holds.
    evaluated.swap(0, 3);
    assert_eq!(
        blinded.finalize(&published.public_key(), &evaluated, &proof),
        Err(OprfError::Proof)
    );
    evaluated.swap(0, 3);
    assert_eq!(
        blinded.finalize(&published.public_key(), &evaluated[..3], &proof),
        Err(OprfError::BatchSize)
    );
    let mut bent = proof.clone();
    bent[0][5] ^= 1;
    assert!(
        blinded
            .finalize(&published.public_key(), &evaluated, &bent)
            .is_err()
    );
    assert!(
        blinded
            .finalize(&published.public_key(), &evaluated, &[])
            .is_err()
    );
    assert!(
        blinded
            .finalize(&published.public_key(), &evaluated, &proof)
            .is_ok()
    );
}

#[test]
fn hostile_elements_and_keys_are_errors() {
    let key = SecretKey::generate(&mut OsRng).unwrap();
    // The identity (all zeros) and a non-canonical encoding are not elements.
    for bad in [[0u8; 32], [0xff; 32]] {
        assert!(matches!(
            key.evaluate_batch(&[Element(bad)], &mut OsRng),
            Err(OprfError::Encoding { .. })
        ));
        assert!(PublicKey::from_bytes(&bad).is_err());
    }
    assert!(PublicKey::from_bytes(&[1; 31]).is_err());
    assert!(PublicKey::from_base64url("not base64!").is_err());
    assert_eq!(
        key.evaluate_batch(&[], &mut OsRng),
        Err(OprfError::BatchSize)
    );
    assert!(Blinded::new::<&str>(&[], 8).is_err());
    assert!(Blinded::new(&[phone("+4915112345678")], MAX_BATCH + 1).is_err());
    assert!(SecretKey::from_bytes(&[0; 32]).is_err());
    let round = PublicKey::from_base64url(&key.public_key().to_base64url()).unwrap();
    assert_eq!(round, key.public_key());
    assert!(!format!("{key:?}").contains(&format!("{:?}", key.to_bytes())));
}

#[test]
fn a_batch_of_several_slices_is_proved_and_checked_slice_by_slice() {
    let key = SecretKey::generate(&mut OsRng).unwrap();
    let public = key.public_key();
    let book: Vec<(IdentifierKind, String)> = (0..600)
        .map(|i| phone(&format!("+49151{:08}", 10_000_000 + i)))
        .collect();
    let blinded = Blinded::new(&book, 700).unwrap();
    let (mut evaluated, proofs) = key.evaluate_batch(blinded.elements(), &mut OsRng).unwrap();
    assert_eq!(proofs.len(), 3, "700 elements: slices of 256, 256 and 188");
    assert_eq!(proofs_for(700), 3);
    let outputs = blinded.finalize(&public, &evaluated, &proofs).unwrap();
    assert_eq!(outputs.len(), 600, "the dummies' values are dropped");
    for (identifier, output) in book.iter().zip(&outputs).step_by(97) {
        assert_eq!(key.evaluate(identifier.0, &identifier.1).unwrap(), *output);
    }
    // Proofs out of order, one missing, or elements moved across slices: all refused.
    let mut swapped = proofs.clone();
    swapped.swap(0, 1);
    assert_eq!(
        blinded.finalize(&public, &evaluated, &swapped),
        Err(OprfError::Proof)
    );
    assert_eq!(
        blinded.finalize(&public, &evaluated, &proofs[..2]),
        Err(OprfError::BatchSize)
    );
    evaluated.swap(10, 600);
    assert_eq!(
        blinded.finalize(&public, &evaluated, &proofs),
        Err(OprfError::Proof)
    );
}

#[test]
fn known_answer_entry_points_refuse_what_would_not_reproduce_a_vector() {
    let key = SecretKey::from_bytes(&hex(SK)).unwrap();
    let v = &VECTORS[2];
    let inputs = list(v.input);
    let blinds = scalars(v.blind);
    // One blind short, one too many, a zero scalar (voprf would draw again forever), one that is
    // not canonical (at least ℓ).
    assert_eq!(
        known_answer::blind_with(&inputs, &blinds[..1]).unwrap_err(),
        OprfError::BatchSize
    );
    let three = [blinds[0], blinds[1], blinds[0]];
    assert!(known_answer::blind_with(&inputs, &three).is_err());
    for bad in [[0u8; 32], [0xff; 32]] {
        assert!(matches!(
            known_answer::blind_with(&inputs, &[blinds[0], bad]),
            Err(OprfError::Encoding { .. })
        ));
    }
    assert!(known_answer::blind_with(&[], &[]).is_err());
    let blinded = known_answer::blind_with(&inputs, &blinds).unwrap();
    let proof = scalars(v.proof_scalar);
    assert_eq!(
        known_answer::evaluate_with(&key, blinded.elements(), &[proof[0], proof[0]]).unwrap_err(),
        OprfError::BatchSize
    );
    assert!(known_answer::evaluate_with(&key, blinded.elements(), &[[0; 32]]).is_err());
    // The same scalars give the same answer: it is deterministic, as the vectors need.
    assert_eq!(
        known_answer::evaluate_with(&key, blinded.elements(), &proof).unwrap(),
        known_answer::evaluate_with(&key, blinded.elements(), &proof).unwrap()
    );
}

/// tests/vectors/voprf.json, which the Kotlin and Swift tests read, holds exactly the vectors
/// above: the bindings prove the same bytes.
#[test]
fn the_shared_vector_file_holds_these_vectors() {
    let file: serde_json::Value =
        serde_json::from_str(include_str!("../../../tests/vectors/voprf.json")).unwrap();
    assert_eq!(file["secret_key"], SK);
    assert_eq!(file["public_key"], PK);
    let shared = file["vectors"].as_array().unwrap();
    assert_eq!(shared.len(), VECTORS.len());
    let joined = |v: &serde_json::Value| match v {
        serde_json::Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().unwrap())
            .collect::<Vec<_>>()
            .join(","),
        other => other.as_str().unwrap().to_owned(),
    };
    let ours = |text: &str| text.split_whitespace().collect::<String>();
    for (v, s) in VECTORS.iter().zip(shared) {
        for (field, value) in [
            ("input", v.input),
            ("blind", v.blind),
            ("blinded", v.blinded),
            ("evaluated", v.evaluated),
            ("proof", v.proof),
            ("proof_scalar", v.proof_scalar),
            ("output", v.output),
        ] {
            assert_eq!(joined(&s[field]), ours(value), "{} {field}", s["name"]);
        }
    }
}
