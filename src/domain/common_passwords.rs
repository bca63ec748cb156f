//! Commonly used passwords, shipped with the binary.
//!
//! `common-passwords.txt` beside this file holds 19,640 passwords that
//! appear most often in published breaches (the list Django ships as
//! `django/contrib/auth/common-passwords.txt.gz`, compiled by Royce
//! Williams; BSD-3-Clause, see the README), lower-cased, one a line,
//! sorted by bytes. It is compiled in as text (about 160 KB of read-only
//! data) and searched in place by bisecting on line boundaries: no index,
//! no heap, nothing to build at start, nothing held while idle.

use unicode_normalization::UnicodeNormalization;

const LIST: &str = include_str!("common-passwords.txt");

/// Whether `password` is on the common-password list, ignoring case (and
/// in the NFKC form passwords are hashed in). Every place that sets a
/// password refuses listed ones through [`super::PasswordPolicy::check`];
/// this is the one function to ask elsewhere (a sign-in, say).
pub fn is_common_password(password: &str) -> bool {
    let key = password.nfkc().collect::<String>().to_lowercase();
    contains(LIST, &key)
}

/// Whether `key` is one of the lines of `list` (sorted by bytes, `\n`
/// separated). Bisects byte offsets: each probe backs up to the start of
/// the line it lands in, so every slice taken starts and ends at a `\n`
/// (or the ends of the text) and stays valid UTF-8.
fn contains(list: &str, key: &str) -> bool {
    if key.is_empty() || key.contains('\n') {
        return false;
    }
    let bytes = list.as_bytes();
    // Lines starting in [lo, hi) are still candidates; both are line starts
    // (or the end of the text).
    let (mut lo, mut hi) = (0, bytes.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let start = bytes[lo..mid]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(lo, |i| lo + i + 1);
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| start + i);
        let Some(line) = list.get(start..end) else {
            return false;
        };
        match line.cmp(key) {
            std::cmp::Ordering::Equal => return true,
            std::cmp::Ordering::Less => lo = (end + 1).min(bytes.len()),
            std::cmp::Ordering::Greater => hi = start,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn the_list_is_sorted_lower_case_and_complete() {
        let lines: Vec<&str> = LIST.lines().collect();
        assert!(lines.len() > 19_000, "{}", lines.len());
        assert!(LIST.ends_with('\n'));
        for pair in lines.windows(2) {
            assert!(pair[0] < pair[1], "not strictly sorted: {pair:?}");
        }
        for line in &lines {
            assert!(!line.is_empty());
            let folded = line.nfkc().collect::<String>().to_lowercase();
            assert_eq!(&folded, line, "stored as it is looked up");
        }
    }

    #[test]
    fn every_listed_password_is_found_and_nothing_else() {
        let listed: HashSet<&str> = LIST.lines().collect();
        for line in LIST.lines() {
            assert!(contains(LIST, line), "{line}");
            assert!(is_common_password(&line.to_uppercase()), "{line}");
            for near in [
                format!("{line}x"),
                format!("0{line}"),
                format!("{line}\u{0}"),
            ] {
                assert_eq!(
                    contains(LIST, &near),
                    listed.contains(near.as_str()),
                    "{near}"
                );
            }
        }
        assert!(is_common_password("PassWord"));
        assert!(
            is_common_password("Ｐａｓｓｗｏｒｄ"),
            "full-width forms fold (NFKC)"
        );
        assert!(!is_common_password("Violet-Harbour-73!"));
        assert!(!is_common_password(""));
        assert!(!is_common_password("password\npassword"));
    }

    #[test]
    fn bisection_at_the_edges() {
        let list = "b\nd\nf\n";
        for k in ["b", "d", "f"] {
            assert!(contains(list, k), "{k}");
        }
        for k in ["a", "c", "e", "g", "bb", "ff"] {
            assert!(!contains(list, k), "{k}");
        }
        assert!(contains("only", "only"));
        assert!(!contains("", "x"));
    }
}
