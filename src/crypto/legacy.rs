//! Password hashes of the systems accounts are imported from
//! (`tongxing import`), checked once at the first sign-in and then
//! replaced by an argon2id hash of our own (see [`super::password`]).
//!
//! An imported hash is stored as given, so that it is recognisable by its
//! own prefix; only the bare hex digests of the system Tongxing replaces
//! get one (`sha1:` / `sha256:`), since a string of hex digits says
//! nothing about where it came from.
//!
//! | stored form | computed as |
//! |---|---|
//! | `sha1:` + 40 hex digits (imported bare or with the prefix) | SHA-1(password) |
//! | `sha256:` + 64 hex digits (imported bare or with the prefix) | SHA-256(password) |
//! | `{SHA}` + base64 of 20 bytes (LDAP, RFC 2307) | SHA-1(password) |
//! | `{SHA256}` + base64 of 32 bytes | SHA-256(password) |
//! | `{SSHA}` + base64(digest ‖ salt) | SHA-1(password ‖ salt) |
//! | `{SSHA256}` + base64(digest ‖ salt) | SHA-256(password ‖ salt) |
//! | `{SSHA512}` + base64(digest ‖ salt) | SHA-512(password ‖ salt) |
//! | `sha1$SALT$HEX` | SHA-1(SALT ‖ password), SALT as text |
//! | `sha256$SALT$HEX` | SHA-256(SALT ‖ password), SALT as text |
//! | `$1$SALT$HASH` | MD5-crypt (Poul-Henning Kamp's, as in glibc and FreeBSD) |
//! | `$2a$` / `$2b$` / `$2y$` + cost + salt and hash | bcrypt |
//! | `$argon2id$` / `$argon2i$` / `$argon2d$` … | argon2, PHC string format |
//!
//! Every comparison is in constant time. Work factors are bounded at
//! import (bcrypt cost, argon2 memory and passes), since a hash is checked
//! on the bounded hashing pool at sign-in and must not hold it for long.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use super::random::constant_time_eq;

/// The stored hash of an account without a password (imported without
/// one): no password matches it; the person sets one by recovery or an
/// administrator's reset.
pub const NO_PASSWORD: &str = "!none";

/// Highest bcrypt cost accepted (2^16 rounds: seconds, once).
pub const MAX_BCRYPT_COST: u32 = 16;
/// Highest argon2 memory accepted, KiB (256 MiB).
pub const MAX_ARGON2_MEMORY_KIB: u32 = 262_144;
/// Highest argon2 passes and lanes accepted.
pub const MAX_ARGON2_PASSES: u32 = 16;
pub const MAX_ARGON2_LANES: u32 = 16;

/// The kinds of hash an import accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sha1Hex,
    Sha256Hex,
    LdapSha1,
    LdapSha256,
    LdapSsha1,
    LdapSsha256,
    LdapSsha512,
    SaltedSha1,
    SaltedSha256,
    Md5Crypt,
    Bcrypt,
    Argon2,
}

impl Kind {
    /// The kind's name, as the import report gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Sha1Hex => "sha1",
            Kind::Sha256Hex => "sha256",
            Kind::LdapSha1 => "{SHA}",
            Kind::LdapSha256 => "{SHA256}",
            Kind::LdapSsha1 => "{SSHA}",
            Kind::LdapSsha256 => "{SSHA256}",
            Kind::LdapSsha512 => "{SSHA512}",
            Kind::SaltedSha1 => "sha1$salt$hex",
            Kind::SaltedSha256 => "sha256$salt$hex",
            Kind::Md5Crypt => "md5-crypt",
            Kind::Bcrypt => "bcrypt",
            Kind::Argon2 => "argon2",
        }
    }
}

/// Why an imported hash is refused (never contains the hash).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub &'static str);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algo {
    Sha1,
    Sha256,
    Sha512,
}

impl Algo {
    fn len(self) -> usize {
        match self {
            Algo::Sha1 => 20,
            Algo::Sha256 => 32,
            Algo::Sha512 => 64,
        }
    }

    fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            d.finalize().to_vec()
        }
        match self {
            Algo::Sha1 => run::<Sha1>(parts),
            Algo::Sha256 => run::<Sha256>(parts),
            Algo::Sha512 => run::<Sha512>(parts),
        }
    }
}

/// A stored hash, understood.
enum Parsed<'a> {
    /// `expected` = algo(prefix ‖ password ‖ suffix).
    Digest {
        algo: Algo,
        expected: Vec<u8>,
        prefix: &'a [u8],
        suffix: Vec<u8>,
    },
    Md5Crypt {
        salt: &'a str,
        expected: &'a str,
    },
    Bcrypt(&'a str),
    Argon2(Box<argon2::PasswordHash>),
}

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The crypt(3) alphabet (MD5-crypt's and bcrypt's base 64 digits).
fn is_crypt64(s: &str) -> bool {
    s.bytes()
        .all(|b| b == b'.' || b == b'/' || b.is_ascii_alphanumeric())
}

fn base64(text: &str) -> Result<Vec<u8>, Malformed> {
    STANDARD
        .decode(text)
        .or_else(|_| STANDARD_NO_PAD.decode(text))
        .map_err(|_| Malformed("the part after the {scheme} is not base64"))
}

/// `{TAG}rest`: the tag in upper case and the rest.
fn ldap_scheme(s: &str) -> Option<(String, &str)> {
    let rest = s.strip_prefix('{')?;
    let (tag, value) = rest.split_once('}')?;
    Some((tag.to_ascii_uppercase(), value))
}

fn parse(stored: &str) -> Result<(Kind, Parsed<'_>), Malformed> {
    let digest = |algo, expected, prefix, suffix| Parsed::Digest {
        algo,
        expected,
        prefix,
        suffix,
    };
    if let Some(hex_text) = stored.strip_prefix("sha1:") {
        if hex_text.len() != 40 || !is_hex(hex_text) {
            return Err(Malformed("an SHA-1 hex digest has 40 hex digits"));
        }
        let expected = hex::decode(hex_text).map_err(|_| Malformed("not hex"))?;
        return Ok((Kind::Sha1Hex, digest(Algo::Sha1, expected, b"", Vec::new())));
    }
    if let Some(hex_text) = stored.strip_prefix("sha256:") {
        if hex_text.len() != 64 || !is_hex(hex_text) {
            return Err(Malformed("an SHA-256 hex digest has 64 hex digits"));
        }
        let expected = hex::decode(hex_text).map_err(|_| Malformed("not hex"))?;
        return Ok((
            Kind::Sha256Hex,
            digest(Algo::Sha256, expected, b"", Vec::new()),
        ));
    }
    for (name, algo, kind) in [
        ("sha1", Algo::Sha1, Kind::SaltedSha1),
        ("sha256", Algo::Sha256, Kind::SaltedSha256),
    ] {
        let Some(rest) = stored.strip_prefix(name).and_then(|r| r.strip_prefix('$')) else {
            continue;
        };
        let Some((salt, hex_text)) = rest.split_once('$') else {
            return Err(Malformed("a salted SHA hash is ALGORITHM$SALT$HEX"));
        };
        if salt.is_empty() || salt.len() > 64 || salt.chars().any(char::is_control) {
            return Err(Malformed(
                "the salt of ALGORITHM$SALT$HEX is 1 to 64 characters, no control characters",
            ));
        }
        if hex_text.len() != algo.len() * 2 || !is_hex(hex_text) {
            return Err(Malformed(
                "the digest of ALGORITHM$SALT$HEX has the wrong length or is not hex",
            ));
        }
        let expected = hex::decode(hex_text).map_err(|_| Malformed("not hex"))?;
        return Ok((kind, digest(algo, expected, salt.as_bytes(), Vec::new())));
    }
    if let Some((tag, value)) = ldap_scheme(stored) {
        let (algo, salted, kind) = match tag.as_str() {
            "SHA" => (Algo::Sha1, false, Kind::LdapSha1),
            "SHA256" => (Algo::Sha256, false, Kind::LdapSha256),
            "SSHA" => (Algo::Sha1, true, Kind::LdapSsha1),
            "SSHA256" => (Algo::Sha256, true, Kind::LdapSsha256),
            "SSHA512" => (Algo::Sha512, true, Kind::LdapSsha512),
            _ => {
                return Err(Malformed(
                    "unknown {scheme}: {SHA}, {SHA256}, {SSHA}, {SSHA256} and {SSHA512} are accepted",
                ));
            }
        };
        let mut bytes = base64(value)?;
        if !salted {
            if bytes.len() != algo.len() {
                return Err(Malformed(
                    "the digest has the wrong length for its {scheme}",
                ));
            }
            return Ok((kind, digest(algo, bytes, b"", Vec::new())));
        }
        if bytes.len() <= algo.len() || bytes.len() > algo.len() + 64 {
            return Err(Malformed(
                "a salted {scheme} holds the digest and 1 to 64 bytes of salt",
            ));
        }
        let salt = bytes.split_off(algo.len());
        return Ok((kind, digest(algo, bytes, b"", salt)));
    }
    if let Some(rest) = stored.strip_prefix("$1$") {
        let Some((salt, expected)) = rest.split_once('$') else {
            return Err(Malformed("an MD5-crypt hash is $1$SALT$HASH"));
        };
        if salt.len() > 8 || salt.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(Malformed(
                "the salt of an MD5-crypt hash is at most 8 characters",
            ));
        }
        if expected.len() != 22 || !is_crypt64(expected) {
            return Err(Malformed(
                "the hash of an MD5-crypt hash is 22 characters of ./0-9A-Za-z",
            ));
        }
        return Ok((Kind::Md5Crypt, Parsed::Md5Crypt { salt, expected }));
    }
    if stored.starts_with("$2") {
        let b = stored.as_bytes();
        // $2b$10$ + 22 characters of salt + 31 of hash.
        let shape = b.len() == 60
            && matches!(&stored[..4], "$2a$" | "$2b$" | "$2y$")
            && b[6] == b'$'
            && is_crypt64(&stored[7..]);
        if !shape {
            return Err(Malformed(
                "a bcrypt hash is $2a$, $2b$ or $2y$, two digits of cost, $ and 53 characters of ./0-9A-Za-z",
            ));
        }
        let cost: u32 = stored[4..6]
            .parse()
            .map_err(|_| Malformed("the bcrypt cost is two digits"))?;
        if !(4..=MAX_BCRYPT_COST).contains(&cost) {
            return Err(Malformed("the bcrypt cost must be 04 to 16"));
        }
        return Ok((Kind::Bcrypt, Parsed::Bcrypt(stored)));
    }
    if stored.starts_with("$argon2") {
        let hash = argon2::PasswordHash::new(stored)
            .map_err(|_| Malformed("not a valid argon2 PHC string"))?;
        if !matches!(hash.algorithm.as_str(), "argon2id" | "argon2i" | "argon2d") {
            return Err(Malformed(
                "the argon2 variant must be argon2id, argon2i or argon2d",
            ));
        }
        if !matches!(hash.version, None | Some(16) | Some(19)) {
            return Err(Malformed("the argon2 version must be 16 or 19"));
        }
        if hash.salt.is_none() || hash.hash.is_none() {
            return Err(Malformed("the argon2 PHC string has no salt or no hash"));
        }
        let params = argon2::Params::try_from(&hash)
            .map_err(|_| Malformed("the argon2 parameters are not valid"))?;
        if params.m_cost() > MAX_ARGON2_MEMORY_KIB
            || params.t_cost() > MAX_ARGON2_PASSES
            || params.p_cost() > MAX_ARGON2_LANES
        {
            return Err(Malformed(
                "the argon2 parameters are too costly to check at sign-in (at most m=262144, t=16, p=16)",
            ));
        }
        return Ok((Kind::Argon2, Parsed::Argon2(Box::new(hash))));
    }
    Err(Malformed(
        "unknown hash format (40 or 64 hex digits, {SHA}, {SSHA}, {SSHA256}, {SSHA512}, sha1$…, sha256$…, $1$, $2a$/$2b$/$2y$ or $argon2…)",
    ))
}

/// What an import stores for the hash given: its kind and the stored
/// form, or why it is refused. Bare hex digests get their prefix (and
/// lower case); everything else is kept as given.
pub fn import(given: &str) -> Result<(Kind, String), Malformed> {
    let given = given.trim();
    let stored = if is_hex(given) && given.len() == 40 {
        format!("sha1:{}", given.to_ascii_lowercase())
    } else if is_hex(given) && given.len() == 64 {
        format!("sha256:{}", given.to_ascii_lowercase())
    } else if let Some(hex_text) = given.strip_prefix("sha1:").or(given.strip_prefix("SHA1:")) {
        format!("sha1:{}", hex_text.to_ascii_lowercase())
    } else if let Some(hex_text) = given
        .strip_prefix("sha256:")
        .or(given.strip_prefix("SHA256:"))
    {
        format!("sha256:{}", hex_text.to_ascii_lowercase())
    } else if is_hex(given) {
        return Err(Malformed(
            "a hex digest has 40 (SHA-1) or 64 (SHA-256) hex digits",
        ));
    } else {
        given.to_string()
    };
    let (kind, _) = parse(&stored)?;
    Ok((kind, stored))
}

/// The kind of a stored hash, if it is one an import wrote.
pub fn kind(stored: &str) -> Option<Kind> {
    parse(stored).ok().map(|(kind, _)| kind)
}

/// Checks `password` (bytes as to be hashed) against a stored imported
/// hash: `None` when `stored` is no such hash.
pub fn verify(stored: &str, password: &[u8]) -> Option<bool> {
    let (_, parsed) = parse(stored).ok()?;
    Some(match parsed {
        Parsed::Digest {
            algo,
            expected,
            prefix,
            suffix,
        } => constant_time_eq(&algo.digest(&[prefix, password, &suffix]), &expected),
        Parsed::Md5Crypt { salt, expected } => constant_time_eq(
            md5_crypt(password, salt.as_bytes()).as_bytes(),
            expected.as_bytes(),
        ),
        // The crate compares in constant time. bcrypt reads the first 72
        // bytes of a password, and so did the system that made the hash:
        // a longer password is checked as it was then (then re-hashed whole).
        Parsed::Bcrypt(hash) => bcrypt::verify(password, hash).unwrap_or(false),
        Parsed::Argon2(hash) => {
            use argon2::PasswordVerifier;
            argon2::Argon2::default()
                .verify_password(password, &*hash)
                .is_ok()
        }
    })
}

const CRYPT64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// MD5-crypt's 22-character hash of `password` with `salt` (at most 8
/// bytes are used), after the reference implementation (FreeBSD
/// `crypt-md5.c`, glibc `md5-crypt.c`).
fn md5_crypt(password: &[u8], salt: &[u8]) -> String {
    const MAGIC: &[u8] = b"$1$";
    let salt = &salt[..salt.len().min(8)];
    let md5 = |parts: &[&[u8]]| -> [u8; 16] {
        let mut d = Md5::new();
        for p in parts {
            d.update(p);
        }
        d.finalize().into()
    };
    let alternate = md5(&[password, salt, password]);
    let mut ctx = Md5::new();
    ctx.update(password);
    ctx.update(MAGIC);
    ctx.update(salt);
    let mut left = password.len();
    while left > 0 {
        let n = left.min(16);
        ctx.update(&alternate[..n]);
        left -= n;
    }
    // The reference's odd loop: a zero byte for every set bit of the
    // length, the password's first byte for every clear one.
    let mut bits = password.len();
    while bits > 0 {
        if bits & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(&password[..1]);
        }
        bits >>= 1;
    }
    let mut fin: [u8; 16] = ctx.finalize().into();
    for i in 0..1000 {
        let mut round = Md5::new();
        if i & 1 == 1 {
            round.update(password);
        } else {
            round.update(fin);
        }
        if i % 3 != 0 {
            round.update(salt);
        }
        if i % 7 != 0 {
            round.update(password);
        }
        if i & 1 == 1 {
            round.update(fin);
        } else {
            round.update(password);
        }
        fin = round.finalize().into();
    }
    let mut out = String::with_capacity(22);
    let mut put = |value: u32, n: usize| {
        let mut v = value;
        for _ in 0..n {
            out.push(char::from(CRYPT64[(v & 0x3f) as usize]));
            v >>= 6;
        }
    };
    let f = |i: usize| u32::from(fin[i]);
    for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        put((f(a) << 16) | (f(b) << 8) | f(c), 4);
    }
    put(f(11), 2);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(stored: &str, password: &str) -> bool {
        verify(stored, password.as_bytes()).expect("a legacy hash")
    }

    #[test]
    fn md5_crypt_matches_the_reference_vectors() {
        // glibc crypt/md5c-test.c.
        assert!(ok("$1$saltstri$YMyguxXMBpd2TEZ.vS/3q1", "Hello world!"));
        // `openssl passwd -1 -salt …` and `mkpasswd -m md5crypt -S …`.
        assert!(ok("$1$abcdefgh$G//4keteveJp0qb8z2DxG/", "password"));
        assert!(ok("$1$$I2o9Z7NcvQAKp7wyCTlia0", "password"));
        assert!(ok("$1$12345678$skct3jQJ.mXWEu0lP2qP80", "Passw0rd!"));
        // Controls: another password, another salt.
        assert!(!ok("$1$abcdefgh$G//4keteveJp0qb8z2DxG/", "Password"));
        assert!(!ok("$1$abcdefgx$G//4keteveJp0qb8z2DxG/", "password"));
        // The salt is cut at 8 characters, as the reference does.
        assert_eq!(
            md5_crypt(b"Hello world!", b"saltstring"),
            "YMyguxXMBpd2TEZ.vS/3q1"
        );
    }

    #[test]
    fn bcrypt_matches_the_reference_vectors() {
        // OpenBSD / Openwall crypt_blowfish test vectors.
        assert!(ok(
            "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            "U*U"
        ));
        assert!(ok(
            "$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK",
            "U*U*"
        ));
        assert!(ok(
            "$2a$05$XXXXXXXXXXXXXXXXXXXXXOAcXxm9kjPGEMsLznoKqmqw7tc8WCx4a",
            "U*U*U"
        ));
        // Past 72 bytes nothing counts (as in every bcrypt).
        assert!(ok(
            "$2a$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui",
            "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789chars after 72 are ignored"
        ));
        // `mkpasswd -m bcrypt` ($2b$) and `htpasswd -B` ($2y$).
        assert!(ok(
            "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            "U*U"
        ));
        assert!(ok(
            "$2y$05$efXr9BnEaI68C6lHkpZzju.uGdliEYr3s8awSfhzF8.4ZJ.4uNlK.",
            "Passw0rd!"
        ));
        assert!(!ok(
            "$2y$05$efXr9BnEaI68C6lHkpZzju.uGdliEYr3s8awSfhzF8.4ZJ.4uNlK.",
            "Passw0rd?"
        ));
        assert!(!ok(
            "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            "U*U*"
        ));
    }

    #[test]
    fn argon2_phc_strings_of_every_variant() {
        // The reference implementation's command line (`argon2 somesalt …`).
        assert!(ok(
            "$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
            "password"
        ));
        assert!(ok(
            "$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbHQ$7FfsnA6vUe7qLpL/3Kqc3uR48ZJyFbUVt7jWZlf0Htk",
            "password"
        ));
        assert!(ok(
            "$argon2d$v=19$m=1024,t=2,p=1$c29tZXNhbHQ$7WlpgAteZBAUBN8fsClBmqjAK0wlZUrln2Vai1gUJKs",
            "password"
        ));
        assert!(ok(
            "$argon2i$v=16$m=1024,t=2,p=1$c29tZXNhbHQ$+RbH6T/wQa0oThAq2V8XLETF7dXxpZ3gqmtkOTDZwdA",
            "password"
        ));
        assert!(!ok(
            "$argon2d$v=19$m=1024,t=2,p=1$c29tZXNhbHQ$7WlpgAteZBAUBN8fsClBmqjAK0wlZUrln2Vai1gUJKs",
            "passwore"
        ));
    }

    #[test]
    fn sha_digests_plain_salted_and_ldap() {
        // SHA-1("password"), SHA-256("password").
        let (kind, sha1) = import("5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8").unwrap();
        assert_eq!(kind, Kind::Sha1Hex);
        assert_eq!(sha1, "sha1:5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8");
        assert!(ok(&sha1, "password"));
        assert!(!ok(&sha1, "Password"));
        let (kind, sha256) =
            import("5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8").unwrap();
        assert_eq!(kind, Kind::Sha256Hex);
        assert!(ok(&sha256, "password"));
        assert!(!ok(&sha256, "passwordx"));
        // Python hashlib: sha1(b"password" + b"salt1234") and the same with
        // SHA-256 / SHA-512, base64 of digest + salt.
        assert!(ok("{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "password"));
        assert!(ok(
            "{SHA256}XohImNooBHFR0OVvjcYpJ3NgPQ1qq73WKhHvch0VQtg=",
            "password"
        ));
        assert!(ok(SSHA, "password"));
        assert!(!ok(SSHA, "passwore"));
        assert!(ok(SSHA256, "password"));
        assert!(ok(SSHA512, "password"));
        assert!(!ok(SSHA512, "password "));
        // Django-style: sha256("salt1234" + "password").
        assert!(ok(SALTED_SHA256, "password"));
        assert!(!ok(SALTED_SHA256, "passwort"));
        assert!(ok(SALTED_SHA1, "password"));
    }

    const SSHA: &str = "{SSHA}rXVtWiPAY6/w8MuTLKIjpBjj2mtzYWx0MTIzNA==";
    const SSHA256: &str = "{SSHA256}ZqbcWj6+KqD5BBm617QPtrpLWEgXUSAWm8MErrSqRq5zYWx0MTIzNA==";
    const SSHA512: &str = "{SSHA512}nOkBUt6l7zlKAfjtk1EfB0TmckXfDiA4FPLcpywOLORZ1PWQK4+PZVEiT4+9rFjqR3xnaruZBiRjDGcDpxxTinNhbHQxMjM0";
    const SALTED_SHA256: &str =
        "sha256$salt1234$19e5a5ac1ad8bbe5b8afe996ca20664e5fa563cdbac2542ae044bc43879bf14e";
    const SALTED_SHA1: &str = "sha1$salt1234$08ceaa96be6ee019e847482c0ad8bbd9a1982eca";

    #[test]
    fn malformed_hashes_are_refused_with_a_reason() {
        for (given, reason) in [
            ("abc123", "a hex digest has 40"),
            ("sha1:abcd", "40 hex digits"),
            ("{MD5}X03MO1qnZdYdgyfeuILPmQ==", "unknown {scheme}"),
            (
                "{SSHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
                "1 to 64 bytes of salt",
            ),
            ("{SHA}***", "not base64"),
            ("$1$toolongsalt$YMyguxXMBpd2TEZ.vS/3q1", "at most 8"),
            ("$1$salt$short", "22 characters"),
            (
                "$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
                "$2a$, $2b$ or $2y$",
            ),
            (
                "$2b$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
                "04 to 16",
            ),
            ("$2b$05$CCCC", "53 characters"),
            (
                "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHQ$7FfsnA6vUe7qLpL/3Kqc3uR48ZJyFbUVt7jWZlf0Htk",
                "too costly",
            ),
            ("$argon2id$v=19$m=1024,t=2,p=1", "no salt or no hash"),
            (
                "$argon2x$v=19$m=1024,t=2,p=1$c29tZXNhbHQ$7FfsnA6vUe7qLpL/3Kqc3uR48ZJyFbUVt7jWZlf0Htk",
                "argon2",
            ),
            (
                "sha256$$d0ddc00a4c17d97ec2226bdf02eb1bc8aa2e2fba1f8dda8b57b32ab26e53d8f1",
                "1 to 64 characters",
            ),
            ("sha256$salt$abc", "wrong length"),
            ("plaintext-password", "unknown hash format"),
        ] {
            let err = import(given).expect_err(given);
            assert!(err.0.contains(reason), "{given}: {err}");
        }
        // Controls: the well-formed neighbours are taken.
        assert!(import("$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW").is_ok());
        assert!(import(SSHA).is_ok());
        // No password matches the marker of an account without one.
        assert_eq!(verify(NO_PASSWORD, b""), None);
        assert_eq!(kind(NO_PASSWORD), None);
    }
}
