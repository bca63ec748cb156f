//! Distinguished names as the LDAP interface reads and writes them
//! (RFC 4514): `uid=alice,ou=people,dc=example,dc=org`.
//!
//! Only what the interface needs: single-valued RDNs, attribute types
//! compared without case, values with `\` escapes (a special character or
//! two hex digits of a UTF-8 byte) compared without case.

/// A parsed DN: its RDNs from the leaf up, each (attribute type in lower
/// case, value unescaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dn(Vec<(String, String)>);

impl Dn {
    pub const EMPTY: Dn = Dn(Vec::new());
}

impl Dn {
    /// `None` for anything that is no DN we understand: a component
    /// without `=`, an empty attribute type, a multi-valued RDN (`+`), a
    /// bad escape or escaped bytes that are not UTF-8. The empty string is
    /// the empty DN (the root, or an anonymous bind).
    pub fn parse(input: &str) -> Option<Dn> {
        let input = input.trim();
        let mut rdns = Vec::new();
        if input.is_empty() {
            return Some(Dn(rdns));
        }
        let mut chars = input.chars().peekable();
        loop {
            let mut attr = String::new();
            for c in chars.by_ref() {
                if c == '=' {
                    break;
                }
                attr.push(c);
            }
            let attr = attr.trim().to_ascii_lowercase();
            if attr.is_empty()
                || !attr
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                return None;
            }
            let mut value: Vec<u8> = Vec::new();
            let mut ended = true;
            while let Some(c) = chars.next() {
                match c {
                    ',' => {
                        ended = false;
                        break;
                    }
                    '+' => return None,
                    '\\' => {
                        let first = chars.next()?;
                        if first.is_ascii_hexdigit() {
                            let second = chars.next()?;
                            let byte = u8::from_str_radix(&format!("{first}{second}"), 16).ok()?;
                            value.push(byte);
                        } else if " \"#+,;<=>\\".contains(first) {
                            value.push(first as u8);
                        } else {
                            return None;
                        }
                    }
                    c => {
                        let mut buf = [0u8; 4];
                        value.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                }
            }
            let value = String::from_utf8(value).ok()?.trim().to_string();
            if value.is_empty() {
                return None;
            }
            rdns.push((attr, value));
            if ended {
                break;
            }
        }
        Some(Dn(rdns))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The RDNs, leaf first.
    pub fn rdns(&self) -> &[(String, String)] {
        &self.0
    }

    /// The RDNs above `base` (leaf first) when this DN ends with it.
    pub fn below(&self, base: &Dn) -> Option<&[(String, String)]> {
        let n = self.0.len().checked_sub(base.0.len())?;
        let (head, tail) = self.0.split_at(n);
        let same = tail
            .iter()
            .zip(&base.0)
            .all(|((a1, v1), (a2, v2))| a1 == a2 && v1.to_lowercase() == v2.to_lowercase());
        same.then_some(head)
    }

    /// Writes a DN from RDNs (leaf first), each value escaped.
    pub fn join(rdns: &[(&str, &str)], base: &Dn) -> String {
        rdns.iter()
            .map(|(a, v)| (a.to_string(), v.to_string()))
            .chain(base.0.iter().cloned())
            .map(|(a, v)| format!("{a}={}", escape(&v)))
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl std::fmt::Display for Dn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&Dn::join(&[], self))
    }
}

/// An attribute value escaped for a DN (RFC 4514 §2.4).
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_compares_below_a_base() {
        let base = Dn::parse("dc=Example,DC=org").unwrap();
        let dn = Dn::parse("UID=alice@example.org, ou=People ,dc=example,dc=org").unwrap();
        let head = dn.below(&base).unwrap();
        assert_eq!(
            head,
            &[
                ("uid".to_string(), "alice@example.org".to_string()),
                ("ou".to_string(), "People".to_string())
            ]
        );
        assert!(
            Dn::parse("uid=a,dc=other,dc=org")
                .unwrap()
                .below(&base)
                .is_none()
        );
        assert!(Dn::parse("").unwrap().is_empty());
    }

    #[test]
    fn escapes_both_ways() {
        let dn = Dn::parse(r"cn=Smith\, John,cn=\E4\B8\AD\E6\96\87,dc=x").unwrap();
        assert_eq!(dn.rdns()[0].1, "Smith, John");
        assert_eq!(dn.rdns()[1].1, "中文");
        let base = Dn::parse("dc=x").unwrap();
        let text = Dn::join(&[("cn", "Smith, John+1")], &base);
        assert_eq!(text, r"cn=Smith\, John\+1,dc=x");
        assert_eq!(Dn::parse(&text).unwrap().rdns()[0].1, "Smith, John+1");
    }

    #[test]
    fn refuses_what_is_no_dn() {
        for bad in [
            "alice",
            "=x",
            "uid=a+cn=b",
            r"uid=\zz",
            r"uid=\FF",
            "uid=",
            "uid=a,",
        ] {
            assert!(Dn::parse(bad).is_none(), "{bad}");
        }
    }
}
