//! Every protocol message parsed from bytes, cheaply, without a store: the direct counterpart of
//! `client_answers`.
//!
//! Input: one byte picks a status (as `client_answers` does), one byte whether a `Retry-After`
//! comes along, the rest is the body. Checked:
//!
//! - each message type of `contactsync_core::protocol::wire` that parses round-trips through
//!   serialisation unchanged;
//! - the private mode's messages too, and its binary bodies (a filter part, a filter) parse to
//!   an error or to a value that writes back to the same bytes, and any tag can be looked up in
//!   a filter that parsed (a lookup never reads past its fingerprints);
//! - the client's one-shot call (`upload::get`, the path of registration, invites and consent)
//!   maps every answer to a value or a typed error: a value only for a 2xx whose body parses; a
//!   refusal keeps the answer's status, a code of at most 64 characters, a message of at most
//!   200; a protocol violation only for a 2xx.

use contactsync_core::Error;
use contactsync_core::oprf::Tag;
use contactsync_core::oprf::filter::UserFilter;
use contactsync_core::protocol::encoding::Encoding;
use contactsync_core::protocol::private::{
    EvaluateAnswer, EvaluateRequest, FilterChanges, FilterPart, LookupAnswer, LookupRequest,
};
use contactsync_core::protocol::wire::{
    ActivateAnswer, ActivateRequest, BatchAnswer, BatchRequest, ChangesAnswer, ConfigAnswer,
    DeleteReceipt, ErrorEnvelope, InviteAnswer, InviteRequest, KeysAnswer, MatchAnswer,
    MatchRequest, RedeemAnswer, RedeemRequest, Registered, RevokeAnswer, UserAnswer, UserInfo,
    UserRequest, UsersAnswer, UsersRequest, VouchRequest,
};
use contactsync_core::upload::{self, MAX_ANSWER_BYTES, Method, Request, Response, TransportError};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Statuses by index; the byte's other values are taken as a status themselves.
const STATUSES: [u16; 14] = [
    200, 201, 204, 400, 401, 403, 404, 409, 413, 429, 500, 503, 418, 299,
];

/// Answers with one canned response.
struct Canned(Response);

impl upload::Transport for Canned {
    fn send(&self, _: Request) -> Result<Response, TransportError> {
        Ok(self.0.clone())
    }
}

/// Parses `body` as `T`, in JSON and in CBOR; when it parses, serialising and parsing again (in
/// both encodings) gives the same value.
fn round_trip<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(body: &[u8]) -> bool {
    if let Ok(value) = Encoding::Cbor.decode::<T>(body) {
        for encoding in [Encoding::Cbor, Encoding::Json] {
            let bytes = encoding.encode(&value).expect("a parsed message encodes");
            let again: T = encoding.decode(&bytes).expect("an encoded message decodes");
            assert_eq!(
                again,
                value,
                "{} does not round-trip",
                std::any::type_name::<T>()
            );
        }
    }
    let Ok(value) = serde_json::from_slice::<T>(body) else {
        return false;
    };
    let text = serde_json::to_vec(&value).expect("a parsed message serialises");
    let again: T = serde_json::from_slice(&text).expect("a serialised message parses");
    assert_eq!(
        again,
        value,
        "{} does not round-trip",
        std::any::type_name::<T>()
    );
    true
}

/// The one-shot call's verdict on one answer, checked against what the answer was.
fn call<T: DeserializeOwned>(response: &Response) {
    let result: contactsync_core::Result<T> =
        upload::get(&Canned(response.clone()), Method::Get, "/v1/fuzz");
    let success = (200..300).contains(&response.status);
    match result {
        Ok(_) => {
            assert!(success, "a value from a {} answer", response.status);
            assert!(response.body.len() <= MAX_ANSWER_BYTES);
            // In the encoding the answer says, or its first byte does (JSON or CBOR).
            let encoding = Encoding::of_body(response.header("Content-Type"), &response.body);
            assert!(encoding.decode::<T>(&response.body).is_ok());
        }
        Err(Error::Server {
            status,
            code,
            message,
        }) => {
            assert!(!success, "a refusal from a {} answer", response.status);
            assert_eq!(status, response.status);
            assert!(!code.is_empty() && code.len() <= 64, "code {code:?}");
            assert!(
                message.chars().count() <= 200,
                "a message of {} characters",
                message.len()
            );
        }
        Err(Error::Protocol(m)) => {
            assert!(
                success,
                "a protocol violation from a {} answer: {m}",
                response.status
            );
        }
        Err(e) => panic!("an answer ended as {e:?}"),
    }
}

/// Runs one input.
pub fn check(data: &[u8]) {
    let (head, body) = data.split_at(data.len().min(2));
    let status = match head.first().copied().unwrap_or(0) {
        i if usize::from(i) < STATUSES.len() => STATUSES[usize::from(i)],
        other => u16::from(other) + 100,
    };
    let headers = match head.get(1).copied().unwrap_or(0) % 3 {
        0 => Vec::new(),
        1 => vec![("Retry-After".to_owned(), "120".to_owned())],
        _ => vec![(
            "retry-after".to_owned(),
            "Wed, 21 Oct 2015 07:28:00 GMT".to_owned(),
        )],
    };
    let response = Response {
        status,
        headers,
        body: body.to_vec(),
    };
    round_trip::<Registered>(body);
    round_trip::<ConfigAnswer>(body);
    round_trip::<BatchAnswer>(body);
    round_trip::<ChangesAnswer>(body);
    round_trip::<DeleteReceipt>(body);
    round_trip::<InviteAnswer>(body);
    round_trip::<RedeemAnswer>(body);
    round_trip::<RevokeAnswer>(body);
    round_trip::<UserAnswer>(body);
    round_trip::<KeysAnswer>(body);
    round_trip::<MatchAnswer>(body);
    round_trip::<ErrorEnvelope>(body);
    round_trip::<UsersAnswer>(body);
    round_trip::<UserInfo>(body);
    round_trip::<ActivateAnswer>(body);
    // The requests too: the server parses them with these types.
    round_trip::<BatchRequest>(body);
    round_trip::<VouchRequest>(body);
    round_trip::<InviteRequest>(body);
    round_trip::<RedeemRequest>(body);
    round_trip::<UserRequest>(body);
    round_trip::<UsersRequest>(body);
    round_trip::<ActivateRequest>(body);
    round_trip::<MatchRequest>(body);
    round_trip::<EvaluateRequest>(body);
    round_trip::<EvaluateAnswer>(body);
    round_trip::<LookupRequest>(body);
    round_trip::<LookupAnswer>(body);
    round_trip::<FilterChanges>(body);
    binary(body);
    call::<ConfigAnswer>(&response);
    call::<BatchAnswer>(&response);
    call::<ChangesAnswer>(&response);
    call::<Registered>(&response);
    call::<InviteAnswer>(&response);
    call::<RedeemAnswer>(&response);
    call::<DeleteReceipt>(&response);
}

/// The private mode's binary bodies: a filter part and a filter.
fn binary(body: &[u8]) {
    if let Ok(part) = FilterPart::from_bytes(body) {
        assert_eq!(part.to_bytes(), body, "a filter part does not write back");
    }
    if let Ok(filter) = UserFilter::from_bytes(body) {
        assert_eq!(filter.to_bytes(), body, "a filter does not write back");
        for i in 0..64u64 {
            let _ = filter.contains(Tag(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
        }
    }
}
