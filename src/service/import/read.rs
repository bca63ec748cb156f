//! Reading an import file: JSON Lines or CSV (RFC 4180: a header line,
//! quoted fields with `""` for a quote and line breaks inside quotes),
//! UTF-8 with or without a byte-order mark. A line that cannot be read is
//! a refused line, not the end of the file.

use std::io::BufRead;
use std::path::Path;

/// The columns (CSV) and keys (JSON Lines) of an import file.
pub const FIELDS: &[&str] = &[
    "username",
    "display_name",
    "login_phone",
    "security_phone",
    "email",
    "email_verified",
    "organization",
    "status",
    "status_reason",
    "password_hash",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Csv,
}

impl Format {
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    /// The format a file name's extension says.
    pub fn of_path(path: &Path) -> Option<Self> {
        path.extension()
            .and_then(|e| e.to_str())
            .and_then(Format::parse)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
        }
    }
}

/// The fields of one line, as text; absent or empty is `None`.
#[derive(Default, Clone)]
pub struct Record {
    values: [Option<String>; FIELDS.len()],
}

impl Record {
    /// The value of `field` (one of [`FIELDS`]), trimmed; `None` when
    /// absent or blank.
    pub fn get(&self, field: &str) -> Option<&str> {
        let i = FIELDS.iter().position(|f| *f == field)?;
        self.values[i]
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    fn set(&mut self, index: usize, value: String) {
        self.values[index] = Some(value);
    }
}

/// One line of the file: where it starts and what it holds, or why it
/// cannot be read.
pub struct Line {
    pub number: usize,
    pub record: Result<Record, String>,
}

/// The file as a whole cannot be read (no usable CSV header).
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{0}")]
    Header(String),
    #[error("reading the file: {0}")]
    Io(#[from] std::io::Error),
}

pub struct Reader<R> {
    input: R,
    format: Format,
    /// Physical lines read so far.
    read: usize,
    /// CSV: the field index of each column.
    columns: Vec<usize>,
    buf: Vec<u8>,
}

impl<R: BufRead> Reader<R> {
    /// A reader of `input`; for CSV the header is read (and checked) now.
    pub fn new(input: R, format: Format) -> Result<Self, FileError> {
        let mut reader = Reader {
            input,
            format,
            read: 0,
            columns: Vec::new(),
            buf: Vec::new(),
        };
        if format == Format::Csv {
            let Some((number, text)) = reader.physical()? else {
                return Err(FileError::Header(
                    "the file is empty: a CSV file starts with a header line".into(),
                ));
            };
            let text = text.map_err(|e| FileError::Header(format!("line {number}: {e}")))?;
            let names = match reader.csv_record(number, text)? {
                Ok(names) => names,
                Err(e) => return Err(FileError::Header(format!("header: {e}"))),
            };
            for name in names {
                let name = name.trim().to_ascii_lowercase();
                let Some(i) = FIELDS.iter().position(|f| *f == name) else {
                    return Err(FileError::Header(format!(
                        "header: unknown column {name:?} (the columns are {})",
                        FIELDS.join(", ")
                    )));
                };
                if reader.columns.contains(&i) {
                    return Err(FileError::Header(format!(
                        "header: column {name:?} appears twice"
                    )));
                }
                reader.columns.push(i);
            }
            if !reader.columns.contains(&0) {
                return Err(FileError::Header(
                    "header: the column \"username\" is required".into(),
                ));
            }
        }
        Ok(reader)
    }

    /// The next non-blank physical line: its number and text (without the
    /// line break; a byte-order mark on the first line removed), or why
    /// it is not text.
    #[allow(clippy::type_complexity)]
    fn physical(&mut self) -> Result<Option<(usize, Result<String, String>)>, std::io::Error> {
        loop {
            self.buf.clear();
            if self.input.read_until(b'\n', &mut self.buf)? == 0 {
                return Ok(None);
            }
            self.read += 1;
            let mut bytes = &self.buf[..];
            if self.read == 1 {
                bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
            }
            let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
            let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
            if bytes.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let text = String::from_utf8(bytes.to_vec())
                .map_err(|_| "the line is not UTF-8 text".to_string());
            return Ok(Some((self.read, text)));
        }
    }

    /// The fields of the CSV record starting with `first`, reading more
    /// physical lines while a quoted field goes on.
    fn csv_record(
        &mut self,
        number: usize,
        first: String,
    ) -> Result<Result<Vec<String>, String>, std::io::Error> {
        let mut text = first;
        loop {
            match split_csv(&text) {
                Split::Fields(fields) => return Ok(Ok(fields)),
                Split::Invalid(reason) => return Ok(Err(reason)),
                Split::OpenQuote => {
                    // A line break inside quotes: the record goes on
                    // (blank lines included).
                    self.buf.clear();
                    if self.input.read_until(b'\n', &mut self.buf)? == 0 {
                        return Ok(Err(format!(
                            "a quoted field opened on line {number} is never closed"
                        )));
                    }
                    self.read += 1;
                    let bytes = self.buf.strip_suffix(b"\n").unwrap_or(&self.buf);
                    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
                    let Ok(more) = std::str::from_utf8(bytes) else {
                        return Ok(Err("the line is not UTF-8 text".into()));
                    };
                    text.push('\n');
                    text.push_str(more);
                }
            }
        }
    }

    /// The next line of the file, `None` at its end.
    pub fn next_line(&mut self) -> Result<Option<Line>, std::io::Error> {
        let Some((number, text)) = self.physical()? else {
            return Ok(None);
        };
        let record = match text {
            Err(e) => Err(e),
            Ok(text) => match self.format {
                Format::Jsonl => json_record(&text),
                Format::Csv => match self.csv_record(number, text)? {
                    Err(e) => Err(e),
                    Ok(fields) if fields.len() != self.columns.len() => Err(format!(
                        "{} fields where the header has {}",
                        fields.len(),
                        self.columns.len()
                    )),
                    Ok(fields) => {
                        let mut record = Record::default();
                        for (value, &i) in fields.into_iter().zip(&self.columns) {
                            record.set(i, value);
                        }
                        Ok(record)
                    }
                },
            },
        };
        Ok(Some(Line { number, record }))
    }
}

fn json_record(text: &str) -> Result<Record, String> {
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| format!("not a JSON object: {e}"))?;
    let mut record = Record::default();
    for (key, value) in object {
        let Some(i) = FIELDS.iter().position(|f| *f == key) else {
            return Err(format!(
                "unknown field {:?} (the fields are {})",
                key.chars().take(64).collect::<String>(),
                FIELDS.join(", ")
            ));
        };
        match value {
            serde_json::Value::Null => {}
            serde_json::Value::String(s) => record.set(i, s),
            serde_json::Value::Bool(b) if key == "email_verified" => record.set(i, b.to_string()),
            _ => return Err(format!("{key}: must be text (a JSON string)")),
        }
    }
    Ok(record)
}

enum Split {
    Fields(Vec<String>),
    /// The text ends inside a quoted field.
    OpenQuote,
    Invalid(String),
}

/// Splits one CSV record (RFC 4180). A field that starts with `"` is
/// quoted: `""` inside is one quote, and it ends at a quote followed by
/// a comma or the end; quotes inside an unquoted field are kept as they are.
fn split_csv(text: &str) -> Split {
    let mut fields = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Split::OpenQuote,
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Split::Fields(fields);
                }
                Some(',') => fields.push(field),
                Some(_) => {
                    return Split::Invalid(format!(
                        "field {}: text after a closing quote (write a quote inside quotes as \"\")",
                        fields.len() + 1
                    ));
                }
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Split::Fields(fields);
                    }
                    Some(',') => break,
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Fields = Vec<(String, String)>;

    fn lines(format: Format, text: &str) -> Vec<(usize, Result<Fields, String>)> {
        let mut reader = Reader::new(text.as_bytes(), format).unwrap();
        let mut out = Vec::new();
        while let Some(line) = reader.next_line().unwrap() {
            let record = line.record.map(|r| {
                FIELDS
                    .iter()
                    .filter_map(|f| r.get(f).map(|v| (f.to_string(), v.to_string())))
                    .collect()
            });
            out.push((line.number, record));
        }
        out
    }

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn csv_with_bom_quotes_and_line_breaks() {
        let text = "\u{feff}username,Display_Name,organization\r\n\
                    li@cnic.cn,\"Li, Lei\",网络中心\r\n\
                    \r\n\
                    wang@cnic.cn,\"Wang \"\"Jr\"\"\nsecond line\",\r\n\
                    zhao@cnic.cn,only two\n\
                    \"bad\"x,a,b\n\
                    qian@cnic.cn,\"never closed,\n";
        let got = lines(Format::Csv, text);
        assert_eq!(
            got.len(),
            5,
            "{:?}",
            got.iter().map(|l| l.0).collect::<Vec<_>>()
        );
        assert_eq!(
            got[0],
            (
                2,
                Ok(kv(&[
                    ("username", "li@cnic.cn"),
                    ("display_name", "Li, Lei"),
                    ("organization", "网络中心")
                ]))
            )
        );
        assert_eq!(
            got[1],
            (
                4,
                Ok(kv(&[
                    ("username", "wang@cnic.cn"),
                    ("display_name", "Wang \"Jr\"\nsecond line")
                ]))
            )
        );
        assert_eq!(got[2].0, 6);
        assert!(
            got[2]
                .1
                .as_ref()
                .unwrap_err()
                .contains("2 fields where the header has 3")
        );
        assert!(
            got[3]
                .1
                .as_ref()
                .unwrap_err()
                .contains("after a closing quote")
        );
        assert_eq!(got[4].0, 8);
        assert!(got[4].1.as_ref().unwrap_err().contains("never closed"));
    }

    #[test]
    fn csv_header_is_checked() {
        for (text, reason) in [
            ("", "empty"),
            ("username,passwd\n", "unknown column \"passwd\""),
            ("username,username\n", "appears twice"),
            ("display_name\n", "\"username\" is required"),
        ] {
            let Err(e) = Reader::new(text.as_bytes(), Format::Csv) else {
                panic!("{text:?} was accepted");
            };
            assert!(e.to_string().contains(reason), "{text:?}: {e}");
        }
        assert!(Reader::new("USERNAME , password_hash\n".as_bytes(), Format::Csv).is_ok());
    }

    #[test]
    fn json_lines_with_bom_and_bad_lines() {
        let text = "\u{feff}{\"username\":\"li@cnic.cn\",\"email_verified\":true,\"login_phone\":null}\n\
                    \n\
                    [1,2]\n\
                    {\"username\":\"x\",\"passwd\":\"y\"}\n\
                    {\"username\":7}\n";
        let mut bytes = text.as_bytes().to_vec();
        bytes.extend_from_slice(b"{\"username\":\"\xff\"}\n");
        let mut reader = Reader::new(&bytes[..], Format::Jsonl).unwrap();
        let mut got = Vec::new();
        while let Some(line) = reader.next_line().unwrap() {
            got.push(line);
        }
        assert_eq!(
            got.iter().map(|l| l.number).collect::<Vec<_>>(),
            [1, 3, 4, 5, 6]
        );
        let first = got[0].record.as_ref().ok().unwrap();
        assert_eq!(first.get("username"), Some("li@cnic.cn"));
        assert_eq!(first.get("email_verified"), Some("true"));
        assert_eq!(first.get("login_phone"), None);
        let reasons: Vec<String> = got[1..]
            .iter()
            .map(|l| l.record.as_ref().err().cloned().unwrap_or_default())
            .collect();
        assert!(reasons[0].contains("not a JSON object"), "{reasons:?}");
        assert!(
            reasons[1].contains("unknown field \"passwd\""),
            "{reasons:?}"
        );
        assert!(reasons[2].contains("username: must be text"), "{reasons:?}");
        assert!(reasons[3].contains("not UTF-8"), "{reasons:?}");
    }

    #[test]
    fn format_from_the_name() {
        assert_eq!(Format::of_path(Path::new("a/users.CSV")), Some(Format::Csv));
        assert_eq!(
            Format::of_path(Path::new("users.jsonl")),
            Some(Format::Jsonl)
        );
        assert_eq!(Format::of_path(Path::new("users.txt")), None);
    }
}
