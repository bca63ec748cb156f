//! Import of the organization registry from CSV (`tongxing org import`,
//! `POST /api/v1/organizations/import`).
//!
//! The file: UTF-8 (a byte-order mark is skipped), RFC 4180 fields (quoted
//! fields may hold commas, line breaks and doubled quotes), a header line
//! naming the columns `full_name,short_name,aliases,mail_domains,status`
//! in any order (only `full_name` is required; a column left out is empty
//! on every line), aliases and mail domains separated by `;`.
//!
//! Each line is the whole of one organization as it is to be: matched by
//! the key of its full name (width, case and spacing do not matter), it is
//! created if no organization has that full name, updated if one has and
//! differs, left alone ("unchanged") if it is already so — the same file
//! twice gives the same registry, and the second run reports every line
//! unchanged. An empty status is `active`; an empty short name, alias or
//! domain list clears it.
//!
//! Lines are written one by one, each in its own transaction with its
//! audit entry (`organization.created` / `organization.updated`, as by
//! hand): a refused line (with its line number and reason) writes nothing
//! and does not stop the lines after it, and what was accepted before a
//! failure stays. A dry run checks every line the same way, against the
//! registry and against the lines before it, and writes nothing. A real
//! run ends with one `organization.imported` audit entry with the counts.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::audit::{Entry, Outcome};
use super::organizations::{self, OrgError, OrgInput};
use super::{Actor, Origin};
use crate::domain::{OrganizationStatus, name_key};
use crate::state::AppState;
use crate::store::StoreError;

/// The columns a file may have.
pub const COLUMNS: [&str; 5] = [
    "full_name",
    "short_name",
    "aliases",
    "mail_domains",
    "status",
];

/// Most lines one import takes.
pub const MAX_LINES: usize = 100_000;

/// Why a whole file is refused (nothing is imported).
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("the file is not UTF-8 text (line {line})")]
    NotUtf8 { line: usize },
    #[error("line {line}: a NUL character")]
    Nul { line: usize },
    #[error("line {line}: a quoted field is not closed")]
    Unclosed { line: usize },
    #[error("line {line}: text after a closing quote")]
    AfterQuote { line: usize },
    #[error("the file is empty: it needs a header line ({})", COLUMNS.join(","))]
    Empty,
    #[error("header: unknown column {0:?} (columns: {cols})", cols = COLUMNS.join(","))]
    UnknownColumn(String),
    #[error("header: column {0:?} twice")]
    DuplicateColumn(String),
    #[error("header: the column full_name is required")]
    NoFullName,
    #[error("more than {MAX_LINES} lines")]
    TooLong,
}

impl FileError {
    /// The part of the request at fault: the body, or its header line.
    pub fn field(&self) -> &'static str {
        match self {
            FileError::UnknownColumn(_)
            | FileError::DuplicateColumn(_)
            | FileError::NoFullName
            | FileError::Empty => "header",
            _ => "body",
        }
    }
}

/// A record of the file and the line it starts on.
struct Record {
    line: usize,
    fields: Vec<String>,
}

/// Splits CSV text into records (RFC 4180; `\n` or `\r\n` ends a line;
/// lines with nothing on them are skipped).
fn records(text: &str) -> Result<Vec<Record>, FileError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start = line;
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted_field = false;
        loop {
            match chars.next() {
                None => {
                    fields.push(std::mem::take(&mut field));
                    break;
                }
                Some('"') if field.is_empty() && !quoted_field => {
                    quoted_field = true;
                    loop {
                        match chars.next() {
                            None => return Err(FileError::Unclosed { line: start }),
                            Some('"') if chars.peek() == Some(&'"') => {
                                chars.next();
                                field.push('"');
                            }
                            Some('"') => break,
                            Some(c) => {
                                if c == '\n' {
                                    line += 1;
                                }
                                field.push(c);
                            }
                        }
                    }
                    match chars.peek() {
                        None | Some(',') | Some('\n') | Some('\r') => {}
                        Some(_) => return Err(FileError::AfterQuote { line }),
                    }
                }
                Some(',') => {
                    fields.push(std::mem::take(&mut field));
                    quoted_field = false;
                }
                Some('\r') if chars.peek() == Some(&'\n') => {}
                Some('\n') => {
                    fields.push(std::mem::take(&mut field));
                    line += 1;
                    break;
                }
                Some(c) => field.push(c),
            }
        }
        let blank = fields.len() == 1 && fields[0].trim().is_empty() && !quoted_field;
        if !blank {
            out.push(Record {
                line: start,
                fields,
            });
        }
        if out.len() > MAX_LINES + 1 {
            return Err(FileError::TooLong);
        }
    }
    Ok(out)
}

/// One line of a file: the organization it gives, or why it cannot be
/// read as one.
struct Line {
    line: usize,
    input: OrgInput,
    problem: Option<(&'static str, String)>,
}

/// A file's lines as organizations (the header read).
pub struct ParsedFile {
    lines: Vec<Line>,
}

impl ParsedFile {
    /// How many lines (after the header) the file has.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// Reads the file's bytes (UTF-8, with or without a byte-order mark).
pub fn parse(bytes: &[u8]) -> Result<ParsedFile, FileError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| FileError::NotUtf8 {
        line: 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count(),
    })?;
    if let Some(at) = text.find('\0') {
        return Err(FileError::Nul {
            line: 1 + text[..at].matches('\n').count(),
        });
    }
    let mut recs = records(text)?.into_iter();
    let header = recs.next().ok_or(FileError::Empty)?;
    let mut columns: Vec<&'static str> = Vec::new();
    for name in &header.fields {
        let name = name.trim().to_ascii_lowercase();
        let Some(col) = COLUMNS.iter().find(|c| **c == name) else {
            return Err(FileError::UnknownColumn(name.chars().take(50).collect()));
        };
        if columns.contains(col) {
            return Err(FileError::DuplicateColumn(name));
        }
        columns.push(col);
    }
    if !columns.contains(&"full_name") {
        return Err(FileError::NoFullName);
    }
    let list = |text: &str| -> Vec<String> {
        text.split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    let lines = recs
        .map(|rec| {
            let mut input = OrgInput {
                status: Some(OrganizationStatus::Active),
                ..OrgInput::default()
            };
            let mut problem = None;
            let extra = rec.fields[columns.len().min(rec.fields.len())..]
                .iter()
                .any(|f| !f.trim().is_empty());
            if extra {
                problem = Some((
                    "body",
                    format!(
                        "the line has {} fields, the header {} columns",
                        rec.fields.len(),
                        columns.len()
                    ),
                ));
            }
            for (col, value) in columns.iter().zip(&rec.fields) {
                match *col {
                    "full_name" => input.full_name = value.clone(),
                    "short_name" => input.short_name = Some(value.clone()),
                    "aliases" => input.aliases = list(value),
                    "mail_domains" => input.mail_domains = list(value),
                    _ if value.trim().is_empty() => {}
                    _ => match OrganizationStatus::parse(value) {
                        Ok(s) => input.status = Some(s),
                        Err(e) => problem = problem.or(Some((e.field, e.to_string()))),
                    },
                }
            }
            Line {
                line: rec.line,
                input,
                problem,
            }
        })
        .collect();
    Ok(ParsedFile { lines })
}

/// What became of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LineOutcome {
    Created,
    Updated,
    Unchanged,
    Refused,
}

impl LineOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            LineOutcome::Created => "created",
            LineOutcome::Updated => "updated",
            LineOutcome::Unchanged => "unchanged",
            LineOutcome::Refused => "refused",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LineReport {
    /// The line of the file the record starts on (the header is line 1).
    pub line: usize,
    /// The full name as the line gives it.
    pub full_name: String,
    pub outcome: LineOutcome,
    /// The organization created, updated or found (absent when refused,
    /// and for a creation in a dry run).
    pub id: Option<Uuid>,
    /// For a refused line: the column at fault, when there is one.
    pub field: Option<String>,
    /// For a refused line: why.
    pub reason: Option<String>,
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub dry_run: bool,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub refused: usize,
    pub lines: Vec<LineReport>,
}

/// Who holds a name key or a domain, as far as the import has got.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Holder {
    /// An organization of the registry (by id), with its full name.
    Registered(Uuid, String),
    /// An organization a line before this one creates (dry run).
    Line(String),
}

/// The registry as the lines before this one leave it: in a dry run,
/// what they would have written (names and domains claimed, organizations
/// rewritten); in a real run the database itself says.
#[derive(Default)]
struct Overlay {
    keys: HashMap<String, Holder>,
    domains: HashMap<String, Holder>,
    /// Organizations whose names and domains the overlay now holds.
    rewritten: HashSet<Uuid>,
}

impl Overlay {
    async fn key_holder(&self, state: &AppState, key: &str) -> Result<Option<Holder>, StoreError> {
        if let Some(h) = self.keys.get(key) {
            return Ok(Some(h.clone()));
        }
        Ok(state
            .store
            .organization_by_key(key)
            .await?
            .filter(|o| !self.rewritten.contains(&o.id))
            .map(|o| Holder::Registered(o.id, o.full_name)))
    }

    async fn domain_holder(
        &self,
        state: &AppState,
        domain: &str,
    ) -> Result<Option<Holder>, StoreError> {
        if let Some(h) = self.domains.get(domain) {
            return Ok(Some(h.clone()));
        }
        Ok(state
            .store
            .organization_by_domain(domain)
            .await?
            .filter(|o| !self.rewritten.contains(&o.id))
            .map(|o| Holder::Registered(o.id, o.full_name)))
    }
}

fn holder_name(h: &Holder) -> &str {
    match h {
        Holder::Registered(_, name) | Holder::Line(name) => name,
    }
}

/// Imports the parsed file (see the module's documentation).
pub async fn import(
    state: &AppState,
    file: ParsedFile,
    dry_run: bool,
    actor: &Actor,
    origin: &Origin,
) -> Result<ImportReport, StoreError> {
    let mut report = ImportReport {
        dry_run,
        created: 0,
        updated: 0,
        unchanged: 0,
        refused: 0,
        lines: Vec::new(),
    };
    let mut overlay = Overlay::default();
    // Full-name key → the line that had it.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for Line {
        line,
        input,
        problem,
    } in file.lines
    {
        let full_name = input.full_name.trim().to_string();
        let outcome = match problem {
            Some((field, reason)) => Err(LineError::Refused(Some(field), reason)),
            None => {
                import_line(
                    state,
                    &input,
                    line,
                    dry_run,
                    &mut overlay,
                    &mut seen,
                    actor,
                    origin,
                )
                .await
            }
        };
        let entry = match outcome {
            Ok((outcome, id)) => LineReport {
                line,
                full_name,
                outcome,
                id,
                field: None,
                reason: None,
            },
            Err(LineError::Store(e)) => return Err(e),
            Err(LineError::Refused(field, reason)) => LineReport {
                line,
                full_name,
                outcome: LineOutcome::Refused,
                id: None,
                field: field.map(String::from),
                reason: Some(reason),
            },
        };
        match entry.outcome {
            LineOutcome::Created => report.created += 1,
            LineOutcome::Updated => report.updated += 1,
            LineOutcome::Unchanged => report.unchanged += 1,
            LineOutcome::Refused => report.refused += 1,
        }
        report.lines.push(entry);
    }
    if !dry_run {
        Entry::new("organization.imported", Outcome::Success)
            .actor(actor)
            .origin(origin)
            .detail(json!({
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "refused": report.refused,
            }))
            .write(&state.store)
            .await?;
    }
    Ok(report)
}

enum LineError {
    Refused(Option<&'static str>, String),
    Store(StoreError),
}

impl From<StoreError> for LineError {
    fn from(e: StoreError) -> Self {
        LineError::Store(e)
    }
}

impl From<OrgError> for LineError {
    fn from(e: OrgError) -> Self {
        match e {
            OrgError::Store(s) => LineError::Store(s),
            other => LineError::Refused(other.field(), other.to_string()),
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn import_line(
    state: &AppState,
    input: &OrgInput,
    line: usize,
    dry_run: bool,
    overlay: &mut Overlay,
    seen: &mut HashMap<String, usize>,
    actor: &Actor,
    origin: &Origin,
) -> Result<(LineOutcome, Option<Uuid>), LineError> {
    let rec = organizations::record(input)?;
    let key = name_key(&rec.full_name);
    if let Some(first) = seen.get(&key) {
        return Err(LineError::Refused(
            Some("full_name"),
            format!("full_name: the same organization as line {first}"),
        ));
    }
    // The organization this line is about: the one whose full name it is.
    let existing = match state.store.organization_by_key(&key).await? {
        Some(o) if name_key(&o.full_name) == key => Some(o),
        _ => None,
    };
    let own = existing.as_ref().map(|o| o.id);
    for k in &rec.keys {
        if let Some(h) = overlay.key_holder(state, &k.key).await?
            && !matches!(&h, Holder::Registered(id, _) if Some(*id) == own)
        {
            return Err(OrgError::NameTaken {
                field: k.kind.field(),
                name: k.name.clone(),
                other: holder_name(&h).to_string(),
            }
            .into());
        }
    }
    for d in &rec.mail_domains {
        if let Some(h) = overlay.domain_holder(state, d).await?
            && !matches!(&h, Holder::Registered(id, _) if Some(*id) == own)
        {
            return Err(OrgError::DomainTaken {
                domain: d.clone(),
                other: holder_name(&h).to_string(),
            }
            .into());
        }
    }
    let (outcome, id) = match &existing {
        None if dry_run => (LineOutcome::Created, None),
        None => {
            let org = organizations::create(state, input, actor, origin).await?;
            (LineOutcome::Created, Some(org.id))
        }
        Some(org) => {
            let same = organizations::record(&OrgInput::of(org))
                .map(|now| {
                    now.full_name == rec.full_name
                        && now.short_name == rec.short_name
                        && now.aliases == rec.aliases
                        && now.mail_domains == rec.mail_domains
                        && now.status == rec.status
                })
                .unwrap_or(false);
            if same {
                (LineOutcome::Unchanged, Some(org.id))
            } else if dry_run {
                (LineOutcome::Updated, Some(org.id))
            } else {
                let (org, changed) =
                    organizations::update(state, org, org.version, input, actor, origin).await?;
                let outcome = if changed {
                    LineOutcome::Updated
                } else {
                    LineOutcome::Unchanged
                };
                (outcome, Some(org.id))
            }
        }
    };
    seen.insert(key, line);
    if dry_run {
        let holder = match &existing {
            Some(o) => {
                overlay.rewritten.insert(o.id);
                overlay
                    .keys
                    .retain(|_, h| !matches!(h, Holder::Registered(id, _) if *id == o.id));
                overlay
                    .domains
                    .retain(|_, h| !matches!(h, Holder::Registered(id, _) if *id == o.id));
                Holder::Registered(o.id, rec.full_name.clone())
            }
            None => Holder::Line(rec.full_name.clone()),
        };
        for k in &rec.keys {
            overlay.keys.insert(k.key.clone(), holder.clone());
        }
        for d in &rec.mail_domains {
            overlay.domains.insert(d.clone(), holder.clone());
        }
    }
    Ok((outcome, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_line_breaks_and_a_bom() {
        let text =
            "\u{FEFF}full_name,aliases\r\n\"A, Inc.\",\"x;\"\"y\"\"\"\n\n\"multi\nline\",z\nlast";
        let recs = records(text.trim_start_matches('\u{FEFF}')).unwrap();
        assert_eq!(recs.len(), 4);
        assert_eq!(recs[1].fields, ["A, Inc.", "x;\"y\""]);
        assert_eq!(recs[1].line, 2);
        assert_eq!(recs[2].fields, ["multi\nline", "z"]);
        assert_eq!(recs[2].line, 4);
        assert_eq!(recs[3].line, 6);
        assert_eq!(recs[3].fields, ["last"]);
        assert!(matches!(
            records("a\n\"open"),
            Err(FileError::Unclosed { line: 2 })
        ));
        assert!(matches!(
            records("\"a\"b"),
            Err(FileError::AfterQuote { line: 1 })
        ));
    }

    #[test]
    fn headers() {
        assert!(parse(b"\xEF\xBB\xBFfull_name\nA").is_ok());
        assert!(matches!(parse(b""), Err(FileError::Empty)));
        assert!(matches!(
            parse(b"full_name,colour\n"),
            Err(FileError::UnknownColumn(c)) if c == "colour"
        ));
        assert!(matches!(parse(b"aliases\n"), Err(FileError::NoFullName)));
        assert!(matches!(
            parse(b"full_name,Full_Name\n"),
            Err(FileError::DuplicateColumn(_))
        ));
        assert!(matches!(
            parse(b"full_name\n\xff"),
            Err(FileError::NotUtf8 { line: 2 })
        ));
        let file = parse(b"status,full_name,aliases\nGONE,A,\n,B,b1; b2 ;\n").unwrap();
        assert_eq!(file.len(), 2);
        assert_eq!(file.lines[0].problem.as_ref().unwrap().0, "status");
        assert_eq!(file.lines[1].input.aliases, ["b1", "b2"]);
        assert_eq!(file.lines[1].input.status, Some(OrganizationStatus::Active));
    }
}
