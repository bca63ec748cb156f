//! Random values from the operating system's CSPRNG.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// `n` random bytes. The OS generator failing is unrecoverable for an IdP,
/// but we still report it instead of panicking.
pub fn bytes<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out)?;
    Ok(out)
}

/// A 256-bit URL-safe token (CSRF tokens, later refresh tokens and links).
pub fn token() -> Result<String, getrandom::Error> {
    Ok(URL_SAFE_NO_PAD.encode(bytes::<32>()?))
}

/// A random uniform index below `bound` (rejection sampling, no modulo bias).
fn below(bound: u8) -> Result<usize, getrandom::Error> {
    let limit = u8::MAX - (u8::MAX % bound);
    loop {
        let [b] = bytes::<1>()?;
        if b < limit {
            return Ok(usize::from(b % bound));
        }
    }
}

/// `len` characters drawn uniformly from `alphabet` (at most 255 long).
pub fn from_alphabet(alphabet: &[u8], len: usize) -> Result<String, getrandom::Error> {
    let bound = u8::try_from(alphabet.len()).unwrap_or(u8::MAX);
    (0..len)
        .map(|_| below(bound).map(|i| char::from(alphabet[i])))
        .collect()
}

/// A strong password of `len` characters (at least 20) with every
/// character class, avoiding look-alike characters so it can be read off
/// a screen.
pub fn password(len: usize) -> Result<String, getrandom::Error> {
    let len = len.clamp(20, 128);
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const LOWER: &[u8] = b"abcdefghijkmnpqrstuvwxyz";
    const DIGIT: &[u8] = b"23456789";
    const SPECIAL: &[u8] = b"!#%+-=?@^_";
    const ALL: [&[u8]; 4] = [UPPER, LOWER, DIGIT, SPECIAL];
    let mut chars = Vec::with_capacity(len);
    for class in ALL {
        chars.push(class[below(class.len() as u8)?]);
    }
    while chars.len() < len {
        let class = ALL[below(4)?];
        chars.push(class[below(class.len() as u8)?]);
    }
    // Fisher–Yates, so the guaranteed characters are not always first.
    for i in (1..chars.len()).rev() {
        let j = below(u8::try_from(i + 1).unwrap_or(u8::MAX))?;
        chars.swap(i, j);
    }
    Ok(chars.into_iter().map(char::from).collect())
}

/// Constant-time equality for secrets compared against user input.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_pass_the_default_policy() {
        use crate::config::PasswordPolicyConfig;
        use crate::domain::{PasswordPolicy, SecretPassword};
        let policy = PasswordPolicy::new(PasswordPolicyConfig::default());
        for _ in 0..50 {
            let p = password(20).unwrap();
            assert_eq!(p.len(), 20);
            assert!(
                policy
                    .check(&SecretPassword::new(p), "admin", &[])
                    .is_empty()
            );
        }
        assert_ne!(token().unwrap(), token().unwrap());
    }
}
