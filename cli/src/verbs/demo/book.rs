//! The demo's generated address book: contacts made up deterministically, so every run and
//! platform imports the same book beside the embedded samples.

use contactsync_core::RawContact;
use contactsync_core::identifier::IdentifierKind;

/// A deterministic synthetic address book of `n` contacts: fictional numbers (555-01xx) and
/// reserved e-mail domains, a few values no normaliser accepts, and one contact with the linked
/// Google account a phone's account adapter would add.
pub fn generated_book(n: usize) -> Vec<RawContact> {
    const FIRST: &[&str] = &[
        "Ada", "Ben", "Carla", "Dev", "Emma", "Felix", "Grace", "Hamid", "Iris", "Jonas", "Kira",
        "Liam", "Maya", "Nils", "Olga", "Pavel", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera",
        "Wen", "Xavi", "Yara", "Zane",
    ];
    const LAST: &[&str] = &[
        "Abbott", "Berg", "Castro", "Dalton", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito",
        "Jensen", "Kowalski", "Larsen", "Moreau", "Nakamura", "Ortiz", "Park", "Quint", "Reyes",
        "Silva", "Tanaka", "Ueda", "Vargas", "Weber", "Young",
    ];
    const AREAS: &[u32] = &[212, 310, 312, 503, 617, 718];
    const DOMAINS: &[&str] = &["example.com", "example.net", "example.org"];
    // xorshift64*: the same book on every run and platform.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |bound: usize| -> usize {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let v = state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33;
        usize::try_from(v).unwrap_or(0) % bound.max(1)
    };
    let mut book = Vec::with_capacity(n + 1);
    for i in 0..n {
        let first = FIRST[next(FIRST.len())];
        let last = LAST[next(LAST.len())];
        let mut c = RawContact::new(format!("generated#{i}"), format!("{first} {last}"));
        let area = AREAS[i % AREAS.len()];
        let line = 100 + (i / AREAS.len()) % 100;
        let phone = match next(3) {
            0 => format!("({area}) 555-0{line}"),
            1 => format!("+1 {area} 555 0{line}"),
            _ => format!("{area}.555.0{line}"),
        };
        c.push(IdentifierKind::Phone, Some("mobile"), phone);
        if next(3) > 0 {
            let domain = DOMAINS[next(DOMAINS.len())];
            let email = format!(
                "{}.{}{i}@{domain}",
                first.to_lowercase(),
                last.to_lowercase()
            );
            c.push(IdentifierKind::Email, Some("home"), email);
        }
        if next(50) == 0 {
            // What people type into a phone field.
            c.push(IdentifierKind::Phone, Some("other"), "ask at reception");
        }
        book.push(c);
    }
    book.push(
        RawContact::new("generated#google", "Eli Navarro")
            .with(IdentifierKind::Account, Some("google"), "google:1078543")
            .with(
                IdentifierKind::Email,
                Some("work"),
                "eli.navarro@example.com",
            ),
    );
    book
}

#[cfg(test)]
mod tests {
    use contactsync_core::identifier::{Normalizer, Region};

    use super::*;

    #[test]
    fn generated_book_is_deterministic_and_normalises() {
        let a = generated_book(50);
        let b = generated_book(50);
        assert_eq!(a, b);
        assert_eq!(a.len(), 51);
        let n = Normalizer::new(Region::default());
        let ok: usize = a
            .iter()
            .map(|c| n.normalize_contact(c).identifiers.len())
            .sum();
        assert!(ok >= 50, "{ok}");
    }
}
