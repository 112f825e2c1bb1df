//! E-mail addresses as people have them in address books: personal ones built from the name at a
//! big or a local provider, work and business ones, the case they were typed in, and junk.

use super::rng::{Rng, push_ascii_lower, push_u64};
use super::tables::names::Name;
use super::tables::regions::Country;
use super::tables::values::{PERSONAL_DOMAINS, TOWNS, WORK_DOMAINS};

/// A personal address: the name, at a big provider or one of the home country's.
pub(super) fn personal_address(
    rng: &mut Rng,
    s: &mut String,
    home: &Country,
    first: Name,
    last: Name,
) {
    let (f, l) = (first.1, last.1);
    let draw = rng.per_mille();
    if draw < 20 && home.iso == "DE" && !last.0.contains(' ') {
        // A family's own (possibly internationalised) domain: `anna@müller.de`.
        push_ascii_lower(s, f);
        s.push('@');
        s.push_str(&last.0.to_lowercase());
        s.push_str(".de");
        return;
    }
    let domain = if rng.per_mille() < home.local_domains_per_mille {
        rng.pick(home.domains)
    } else {
        rng.weighted(PERSONAL_DOMAINS)
    };
    let mut digits = false;
    if draw < 30 && !first.0.is_ascii() {
        // A non-ASCII local part, as some providers allow.
        s.push_str(&first.0.to_lowercase());
        s.push('.');
        push_ascii_lower(s, l);
    } else if draw < 300 {
        push_ascii_lower(s, f);
        s.push('.');
        push_ascii_lower(s, l);
    } else if draw < 390 {
        push_ascii_lower(s, f);
        push_ascii_lower(s, l);
    } else if draw < 470 {
        push_ascii_lower(s, &f[..1]);
        s.push('.');
        push_ascii_lower(s, l);
    } else if draw < 520 {
        push_ascii_lower(s, f);
        s.push('_');
        push_ascii_lower(s, l);
    } else if draw < 690 {
        push_ascii_lower(s, f);
        s.push('.');
        push_ascii_lower(s, l);
        digits = true;
    } else if draw < 770 {
        push_ascii_lower(s, f);
        push_ascii_lower(s, &l[..1]);
        push_u64(s, 1955 + rng.below(55));
    } else if draw < 830 {
        push_ascii_lower(s, l);
        s.push('.');
        push_ascii_lower(s, f);
    } else if draw < 880 {
        push_ascii_lower(s, l);
        digits = true;
    } else if draw < 930 {
        push_ascii_lower(s, &f[..1]);
        push_ascii_lower(s, l);
    } else {
        push_ascii_lower(s, f);
        digits = true;
    }
    // Providers hand out an address once: common names get numbers.
    if digits || rng.chance(600) {
        if rng.chance(500) {
            push_u64(s, 1 + rng.below(99));
        } else {
            push_u64(s, 100 + rng.below(9_900));
        }
    }
    s.push('@');
    s.push_str(domain);
}

/// An address at an employer.
pub(super) fn work_address(rng: &mut Rng, s: &mut String, first: &str, last: &str) {
    let draw = rng.per_mille();
    if draw < 700 {
        push_ascii_lower(s, first);
        s.push('.');
        push_ascii_lower(s, last);
    } else if draw < 950 {
        push_ascii_lower(s, &first[..1]);
        s.push('.');
        push_ascii_lower(s, last);
    } else {
        push_ascii_lower(s, last);
    }
    s.push('@');
    s.push_str(rng.weighted(WORK_DOMAINS));
}

/// A business's address at its own domain (`info@baeckerei-mueller.de`).
pub(super) fn business_address(rng: &mut Rng, s: &mut String, kind: Name, last: Name) {
    s.push_str(rng.pick(&["info", "info", "kontakt", "termine", "post"]));
    s.push('@');
    s.push_str(kind.1);
    s.push('-');
    if last.0.is_ascii() || rng.chance(500) {
        push_ascii_lower(s, last.1);
    } else {
        // `bäckerei-müller.de`: an internationalised domain.
        s.push_str(&last.0.to_lowercase());
    }
    if rng.chance(600) {
        s.push('-');
        s.push_str(rng.pick(TOWNS));
    }
    s.push_str(".de");
}

/// Address books keep e-mail addresses as typed: some capitalised, a few shouted.
pub(super) fn vary_case(rng: &mut Rng, s: &mut String) {
    let draw = rng.per_mille();
    if draw < 120 {
        // `Anna.Mueller@gmx.de` (ASCII local parts only).
        let at = s.rfind('@').unwrap_or(s.len());
        if s[..at].is_ascii() {
            let mut up = true;
            for k in 0..at {
                let b = s.as_bytes()[k];
                if up {
                    s[k..=k].make_ascii_uppercase();
                }
                up = b == b'.' || b == b'_';
            }
        }
    } else if draw < 150 {
        s.make_ascii_uppercase();
    } else if draw < 180 {
        // `anna@GMX.de`
        if let Some(at) = s.rfind('@') {
            let dot = s.rfind('.').unwrap_or(s.len()).max(at);
            s[at..dot].make_ascii_uppercase();
        }
    }
}

/// A malformed address: `(at)`, a missing `@` or domain, spaces, two `@`s.
pub(super) fn junk_email(rng: &mut Rng, first: &str, last: &str) -> String {
    let mut s = String::with_capacity(40);
    push_ascii_lower(&mut s, first);
    let domain = rng.weighted(PERSONAL_DOMAINS);
    match rng.below(8) {
        0 => {
            s.push('.');
            push_ascii_lower(&mut s, last);
            s.push_str("(at)");
            s.push_str(domain);
        }
        1 => {
            s.push('.');
            push_ascii_lower(&mut s, last);
            s.push('.');
            s.push_str(domain);
        }
        2 => {
            s.push('.');
            push_ascii_lower(&mut s, last);
            s.push('@');
            s.push_str(domain.split('.').next().unwrap_or(domain));
        }
        3 => {
            s.push(' ');
            push_ascii_lower(&mut s, last);
            s.push('@');
            s.push_str(domain);
        }
        4 => {
            s.push('.');
            push_ascii_lower(&mut s, last);
            s.push('@');
        }
        5 => {
            s.push_str("..");
            push_ascii_lower(&mut s, last);
            s.push('@');
            s.push_str(domain);
        }
        6 => {
            s.push('@');
            s.push_str(&domain.replace('.', ","));
        }
        _ => {
            s.push('@');
            s.push_str(domain);
            s.push('@');
            s.push_str(domain);
        }
    }
    s
}
