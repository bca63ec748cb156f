//! A small in-process SMTP server (an RFC 5321 subset, enough for lettre) for
//! testing the mail sender for real: plain SMTP, STARTTLS (RFC 3207) and
//! implicit TLS (RFC 8314), with optional AUTH PLAIN / LOGIN (RFC 4954). It
//! keeps every message it accepts, plus helpers to decode them.
//!
//! The TLS certificate is the test-only one in `tests/fixtures/smtp/`, issued
//! for `localhost` / `127.0.0.1` by a test CA ([`SmtpServer::ca_file`]).

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

/// Standard base64 that accepts input with or without padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// How the server secures its connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpMode {
    /// No TLS at all (STARTTLS is not offered).
    Plain,
    /// Plain text until the client issues STARTTLS; AUTH and MAIL are only
    /// accepted after it.
    StartTls,
    /// TLS from the first byte ("submissions"/SMTPS).
    ImplicitTls,
}

/// A running test SMTP server on 127.0.0.1; it stops when dropped.
pub struct SmtpServer {
    pub port: u16,
    shared: Arc<Shared>,
    accept_task: JoinHandle<()>,
}

/// One accepted message.
#[derive(Clone, Debug)]
pub struct Received {
    /// The MAIL FROM reverse-path (without the angle brackets).
    pub from: String,
    /// The RCPT TO forward-paths, in order.
    pub to: Vec<String>,
    /// The raw message as sent after DATA, dot-unstuffed, CRLF kept (without
    /// the terminating `.` line).
    pub data: String,
    /// The user that authenticated on the connection, if any.
    pub auth_user: Option<String>,
    /// Whether the message arrived over TLS (STARTTLS or implicit).
    pub tls: bool,
}

struct Shared {
    mode: SmtpMode,
    credentials: Option<(String, String)>,
    tls: TlsAcceptor,
    received: Mutex<Vec<Received>>,
    connections: AtomicUsize,
}

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/smtp")
}

fn tls_acceptor() -> TlsAcceptor {
    let dir = fixtures_dir();
    let certs = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    TlsAcceptor::from(Arc::new(config))
}

impl SmtpServer {
    /// Binds 127.0.0.1:0, serves connections in spawned tasks until dropped.
    /// With `credentials`, AUTH (PLAIN, LOGIN) is offered and required
    /// before MAIL.
    pub async fn start(mode: SmtpMode, credentials: Option<(&str, &str)>) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            mode,
            credentials: credentials.map(|(u, p)| (u.to_string(), p.to_string())),
            tls: tls_acceptor(),
            received: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
        });
        let accepting = shared.clone();
        let accept_task = tokio::spawn(async move {
            // Dropping the set (when this task is aborted) ends every session.
            let mut sessions = JoinSet::new();
            loop {
                let tcp = match listener.accept().await {
                    Ok((tcp, _)) => tcp,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                accepting.connections.fetch_add(1, Ordering::SeqCst);
                let shared = accepting.clone();
                sessions.spawn(async move {
                    if let Err(e) = handle(tcp, &shared).await {
                        eprintln!("test SMTP server: connection ended with an error: {e}");
                    }
                });
                while sessions.try_join_next().is_some() {}
            }
        });
        SmtpServer {
            port,
            shared,
            accept_task,
        }
    }

    /// Path of the CA certificate (PEM) the client must trust.
    pub fn ca_file(&self) -> PathBuf {
        fixtures_dir().join("ca.pem")
    }

    /// The messages accepted so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Polls until at least `n` messages arrived (gives up after ~10 s and
    /// returns what is there).
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let received = self.received();
            if received.len() >= n || Instant::now() >= deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// TCP connections accepted so far (to show the client pools
    /// connections).
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

async fn handle(tcp: TcpStream, shared: &Shared) -> io::Result<()> {
    match shared.mode {
        SmtpMode::Plain => {
            serve(tcp, shared, false, true).await?;
        }
        SmtpMode::ImplicitTls => {
            let tls = shared.tls.accept(tcp).await?;
            serve(tls, shared, true, true).await?;
        }
        SmtpMode::StartTls => {
            if let Some(tcp) = serve(tcp, shared, false, true).await? {
                let tls = shared.tls.accept(tcp).await?;
                // A fresh session: the client must EHLO (and AUTH) again.
                serve(tls, shared, true, false).await?;
            }
        }
    }
    Ok(())
}

/// Reads one line; `None` at end of stream. The line ending is removed.
async fn read_line<S: AsyncRead + Unpin>(io: &mut BufReader<S>) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    if io.read_until(b'\n', &mut buf).await? == 0 {
        return Ok(None);
    }
    let line = String::from_utf8_lossy(&buf);
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_string()))
}

async fn reply<S: AsyncWrite + Unpin>(io: &mut S, lines: &str) -> io::Result<()> {
    io.write_all(lines.as_bytes()).await?;
    io.write_all(b"\r\n").await?;
    io.flush().await
}

/// The address in `FROM:<addr> PARAMS` / `TO:<addr> PARAMS` (parameters
/// such as `BODY=8BITMIME SMTPUTF8` are ignored).
fn path_argument(arg: &str, keyword: &str) -> Option<String> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg[keyword.len()..].trim_start().strip_prefix('<')?;
    let end = rest.find('>')?;
    Some(rest[..end].to_string())
}

enum AuthOutcome {
    /// The client supplied these (user, password).
    Credentials(String, String),
    /// The exchange failed; send this reply.
    Reply(&'static str),
    /// The client went away.
    Eof,
}

/// Runs the AUTH PLAIN / LOGIN exchange (the command line was
/// `AUTH <mechanism> [initial-response]`).
async fn authenticate<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufReader<S>,
    mechanism: &str,
    initial: Option<&str>,
) -> io::Result<AuthOutcome> {
    // Reads a base64 client response, after sending `prompt` unless the
    // client gave it as the initial response.
    async fn response<S: AsyncRead + AsyncWrite + Unpin>(
        io: &mut BufReader<S>,
        prompt: &str,
        initial: Option<&str>,
    ) -> io::Result<Result<Vec<u8>, AuthOutcome>> {
        let line = match initial {
            Some(initial) => initial.to_string(),
            None => {
                reply(io, prompt).await?;
                match read_line(io).await? {
                    Some(line) => line,
                    None => return Ok(Err(AuthOutcome::Eof)),
                }
            }
        };
        let line = line.trim();
        if line == "*" {
            return Ok(Err(AuthOutcome::Reply(
                "501 5.0.0 Authentication cancelled",
            )));
        }
        if line == "=" {
            return Ok(Ok(Vec::new()));
        }
        Ok(BASE64
            .decode(line)
            .map_err(|_| AuthOutcome::Reply("501 5.5.2 Cannot decode the response")))
    }

    match mechanism.to_ascii_uppercase().as_str() {
        "PLAIN" => {
            let bytes = match response(io, "334 ", initial).await? {
                Ok(bytes) => bytes,
                Err(outcome) => return Ok(outcome),
            };
            // authzid NUL authcid NUL passwd
            let fields: Vec<&[u8]> = bytes.split(|b| *b == 0).collect();
            match fields.as_slice() {
                [_authzid, user, password] => Ok(AuthOutcome::Credentials(
                    String::from_utf8_lossy(user).into_owned(),
                    String::from_utf8_lossy(password).into_owned(),
                )),
                _ => Ok(AuthOutcome::Reply("501 5.5.2 Malformed PLAIN response")),
            }
        }
        "LOGIN" => {
            // "Username:" and "Password:" in base64.
            let user = match response(io, "334 VXNlcm5hbWU6", initial).await? {
                Ok(bytes) => bytes,
                Err(outcome) => return Ok(outcome),
            };
            let password = match response(io, "334 UGFzc3dvcmQ6", None).await? {
                Ok(bytes) => bytes,
                Err(outcome) => return Ok(outcome),
            };
            Ok(AuthOutcome::Credentials(
                String::from_utf8_lossy(&user).into_owned(),
                String::from_utf8_lossy(&password).into_owned(),
            ))
        }
        _ => Ok(AuthOutcome::Reply(
            "504 5.5.4 Unrecognized authentication type",
        )),
    }
}

/// One SMTP session over `stream`. Returns the stream when the client asked
/// for STARTTLS (and was told to go ahead), `None` when it is over.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    shared: &Shared,
    tls: bool,
    greet: bool,
) -> io::Result<Option<S>> {
    let mut io = BufReader::new(stream);
    if greet {
        reply(&mut io, "220 localhost ESMTP tongxing test server").await?;
    }
    let offer_starttls = shared.mode == SmtpMode::StartTls && !tls;
    let offer_auth = shared.credentials.is_some() && (shared.mode == SmtpMode::Plain || tls);
    let mut greeted = false;
    let mut auth_user: Option<String> = None;
    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();

    while let Some(line) = read_line(&mut io).await? {
        let (verb, arg) = match line.split_once(' ') {
            Some((verb, arg)) => (verb.to_ascii_uppercase(), arg.trim()),
            None => (line.trim().to_ascii_uppercase(), ""),
        };
        match verb.as_str() {
            "EHLO" => {
                greeted = true;
                from = None;
                to.clear();
                let mut lines = vec![format!("localhost greets {arg}")];
                lines.push("8BITMIME".to_string());
                lines.push("SMTPUTF8".to_string());
                if offer_starttls {
                    lines.push("STARTTLS".to_string());
                }
                if offer_auth {
                    lines.push("AUTH PLAIN LOGIN".to_string());
                }
                let last = lines.len() - 1;
                let text = lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| format!("250{}{l}", if i == last { ' ' } else { '-' }))
                    .collect::<Vec<_>>()
                    .join("\r\n");
                reply(&mut io, &text).await?;
            }
            "HELO" => {
                greeted = true;
                from = None;
                to.clear();
                reply(&mut io, "250 localhost").await?;
            }
            "STARTTLS" => {
                if tls {
                    reply(&mut io, "503 5.5.1 TLS already active").await?;
                } else if !offer_starttls {
                    reply(&mut io, "502 5.5.1 STARTTLS not supported").await?;
                } else {
                    reply(&mut io, "220 2.0.0 Ready to start TLS").await?;
                    // Anything the client pipelined after STARTTLS is
                    // discarded with the buffer (RFC 3207 §4.2).
                    return Ok(Some(io.into_inner()));
                }
            }
            "AUTH" => {
                let Some((user, password)) = &shared.credentials else {
                    reply(&mut io, "502 5.5.1 AUTH not supported").await?;
                    continue;
                };
                if !offer_auth {
                    reply(&mut io, "538 5.7.11 Encryption required for authentication").await?;
                    continue;
                }
                if !greeted {
                    reply(&mut io, "503 5.5.1 Send EHLO first").await?;
                    continue;
                }
                if auth_user.is_some() {
                    reply(&mut io, "503 5.5.1 Already authenticated").await?;
                    continue;
                }
                let (mechanism, initial) = match arg.split_once(' ') {
                    Some((mechanism, initial)) => (mechanism, Some(initial.trim())),
                    None => (arg, None),
                };
                match authenticate(&mut io, mechanism, initial).await? {
                    AuthOutcome::Credentials(u, p) if &u == user && &p == password => {
                        auth_user = Some(u);
                        reply(&mut io, "235 2.7.0 Authentication successful").await?;
                    }
                    AuthOutcome::Credentials(..) => {
                        reply(&mut io, "535 5.7.8 Authentication credentials invalid").await?;
                    }
                    AuthOutcome::Reply(text) => reply(&mut io, text).await?,
                    AuthOutcome::Eof => return Ok(None),
                }
            }
            "MAIL" => {
                if shared.mode == SmtpMode::StartTls && !tls {
                    reply(&mut io, "530 5.7.0 Must issue a STARTTLS command first").await?;
                } else if shared.credentials.is_some() && auth_user.is_none() {
                    reply(&mut io, "530 5.7.0 Authentication required").await?;
                } else if !greeted {
                    reply(&mut io, "503 5.5.1 Send EHLO/HELO first").await?;
                } else if from.is_some() {
                    reply(&mut io, "503 5.5.1 Nested MAIL command").await?;
                } else if let Some(address) = path_argument(arg, "FROM:") {
                    from = Some(address);
                    to.clear();
                    reply(&mut io, "250 2.1.0 Sender OK").await?;
                } else {
                    reply(&mut io, "501 5.5.4 Syntax: MAIL FROM:<address>").await?;
                }
            }
            "RCPT" => {
                if from.is_none() {
                    reply(&mut io, "503 5.5.1 Need MAIL command").await?;
                } else if let Some(address) = path_argument(arg, "TO:") {
                    to.push(address);
                    reply(&mut io, "250 2.1.5 Recipient OK").await?;
                } else {
                    reply(&mut io, "501 5.5.4 Syntax: RCPT TO:<address>").await?;
                }
            }
            "DATA" => {
                let Some(sender) = from.clone().filter(|_| !to.is_empty()) else {
                    reply(&mut io, "503 5.5.1 Need MAIL and RCPT commands").await?;
                    continue;
                };
                reply(&mut io, "354 Start mail input; end with <CRLF>.<CRLF>").await?;
                let mut data = Vec::new();
                loop {
                    let mut line = Vec::new();
                    if io.read_until(b'\n', &mut line).await? == 0 {
                        return Ok(None);
                    }
                    if line == b".\r\n" || line == b".\n" {
                        break;
                    }
                    let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
                    data.extend_from_slice(unstuffed);
                }
                let message = Received {
                    from: sender,
                    to: std::mem::take(&mut to),
                    data: String::from_utf8_lossy(&data).into_owned(),
                    auth_user: auth_user.clone(),
                    tls,
                };
                shared.received.lock().unwrap().push(message);
                from = None;
                reply(&mut io, "250 2.0.0 OK: queued").await?;
            }
            "RSET" => {
                from = None;
                to.clear();
                reply(&mut io, "250 2.0.0 OK").await?;
            }
            "NOOP" => reply(&mut io, "250 2.0.0 OK").await?,
            "QUIT" => {
                reply(&mut io, "221 2.0.0 Bye").await?;
                let _ = io.get_mut().shutdown().await;
                return Ok(None);
            }
            _ => reply(&mut io, "502 5.5.2 Command not recognized").await?,
        }
    }
    Ok(None)
}

impl Received {
    /// Decoded subject (RFC 2047 encoded-words, UTF-8, B and Q encodings);
    /// "" when there is none.
    pub fn subject(&self) -> String {
        self.header("Subject")
            .map(|s| decode_encoded_words(&s))
            .unwrap_or_default()
    }

    /// Every text/plain and text/html part of the (possibly multipart)
    /// message, each decoded from base64 / quoted-printable / 7bit / 8bit
    /// into UTF-8, as (content type in lower case without parameters, body).
    /// Bodies are exactly what was encoded (lettre sends CRLF line endings).
    pub fn parts(&self) -> Vec<(String, String)> {
        let mut parts = Vec::new();
        collect_text_parts(&self.data, &mut parts);
        parts
    }

    /// The (first) text/plain part, decoded, or "".
    pub fn text(&self) -> String {
        self.part("text/plain")
    }

    /// The (first) text/html part, decoded, or "".
    pub fn html(&self) -> String {
        self.part("text/html")
    }

    /// Raw value (unfolded, not decoded) of the first header called `name`
    /// (case-insensitive).
    pub fn header(&self, name: &str) -> Option<String> {
        let (headers, _) = split_entity(&self.data);
        headers
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    fn part(&self, content_type: &str) -> String {
        self.parts()
            .into_iter()
            .find(|(t, _)| t == content_type)
            .map(|(_, body)| body)
            .unwrap_or_default()
    }
}

/// Splits a MIME entity into its (unfolded) headers and its body.
fn split_entity(entity: &str) -> (Vec<(String, String)>, &str) {
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut rest = entity;
    let body = loop {
        if rest.is_empty() {
            break "";
        }
        let (line, after) = match rest.find('\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break after;
        }
        if line.starts_with([' ', '\t']) {
            // Unfolding removes the line break only (RFC 5322 §2.2.3).
            if let Some((_, value)) = headers.last_mut() {
                value.push_str(line);
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim_start().to_string()));
        }
        rest = after;
    };
    for (_, value) in &mut headers {
        let trimmed = value.trim_end().len();
        value.truncate(trimmed);
    }
    (headers, body)
}

/// The value of parameter `name` in a header like
/// `multipart/alternative; boundary="abc"`.
fn header_parameter(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|param| {
        let (key, val) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| val.trim().trim_matches('"').to_string())
    })
}

fn collect_text_parts(entity: &str, out: &mut Vec<(String, String)>) {
    let (headers, body) = split_entity(entity);
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let content_type = header("Content-Type").unwrap_or("text/plain");
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if mime.starts_with("multipart/") {
        if let Some(boundary) = header_parameter(content_type, "boundary") {
            for part in split_multipart(body, &boundary) {
                collect_text_parts(part, out);
            }
        }
    } else if mime == "text/plain" || mime == "text/html" {
        let encoding = header("Content-Transfer-Encoding")
            .unwrap_or("7bit")
            .trim()
            .to_ascii_lowercase();
        let bytes = match encoding.as_str() {
            "base64" => {
                let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
                BASE64.decode(compact).unwrap_or_default()
            }
            "quoted-printable" => decode_quoted_printable(body.as_bytes()),
            _ => body.as_bytes().to_vec(),
        };
        out.push((mime, String::from_utf8_lossy(&bytes).into_owned()));
    }
}

/// The body parts between the `--boundary` delimiter lines (RFC 2046 §5.1.1;
/// the line break before a delimiter belongs to the delimiter).
fn split_multipart<'a>(body: &'a str, boundary: &str) -> Vec<&'a str> {
    let delimiter = format!("--{boundary}");
    let close = format!("--{boundary}--");
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut offset = 0;
    for line in body.split_inclusive('\n') {
        let trimmed = line.trim_end();
        let is_close = trimmed == close;
        if is_close || trimmed == delimiter {
            if let Some(start) = start {
                let content = &body[start..offset];
                let content = content
                    .strip_suffix('\n')
                    .map(|c| c.strip_suffix('\r').unwrap_or(c))
                    .unwrap_or(content);
                parts.push(content);
            }
            if is_close {
                break;
            }
            start = Some(offset + line.len());
        }
        offset += line.len();
    }
    parts
}

fn decode_quoted_printable(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'=' {
            let rest = &input[i + 1..];
            if rest.starts_with(b"\r\n") {
                i += 3; // soft line break
                continue;
            }
            if rest.starts_with(b"\n") {
                i += 2;
                continue;
            }
            if let Some(hex) = rest
                .get(..2)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            {
                let hex = std::str::from_utf8(hex).unwrap_or_default();
                if let Ok(byte) = u8::from_str_radix(hex, 16) {
                    out.push(byte);
                    i += 3;
                    continue;
                }
            }
        }
        out.push(input[i]);
        i += 1;
    }
    out
}

/// Decodes one RFC 2047 encoded-word at the start of `s`: its bytes and the
/// rest of `s`.
fn encoded_word(s: &str) -> Option<(Vec<u8>, &str)> {
    let s = s.strip_prefix("=?")?;
    let (charset, s) = s.split_once('?')?;
    let (encoding, s) = s.split_once('?')?;
    let end = s.find("?=")?;
    let (text, rest) = (&s[..end], &s[end + 2..]);
    let no_space = |t: &str| !t.contains(|c: char| c.is_ascii_whitespace());
    if charset.is_empty() || !no_space(charset) || !no_space(text) {
        return None;
    }
    let bytes = match encoding {
        "B" | "b" => BASE64.decode(text).ok()?,
        "Q" | "q" => decode_quoted_printable(text.replace('_', " ").as_bytes()),
        _ => return None,
    };
    Some((bytes, rest))
}

/// Decodes the encoded-words in a header value (charset assumed UTF-8);
/// whitespace between adjacent encoded-words is dropped.
fn decode_encoded_words(value: &str) -> String {
    let mut out = String::new();
    let mut pending: Vec<u8> = Vec::new(); // bytes of a run of encoded-words
    let mut in_run = false;
    let mut between = String::new(); // literal text since the last encoded-word
    let mut rest = value;
    while let Some(c) = rest.chars().next() {
        if let Some((bytes, after)) = encoded_word(rest) {
            if !in_run || !between.trim().is_empty() {
                out.push_str(&String::from_utf8_lossy(&pending));
                pending.clear();
                out.push_str(&between);
            }
            between.clear();
            pending.extend(bytes);
            in_run = true;
            rest = after;
        } else {
            between.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out.push_str(&String::from_utf8_lossy(&pending));
    out.push_str(&between);
    out
}

// ---- self-tests -------------------------------------------------------

const USER: &str = "mailer";
const PASSWORD: &str = "s3cret-密码";
const SUBJECT: &str = "【通行】您的邮箱验证码是 123456，十分钟内有效。如非本人操作，请忽略本邮件。";
const TEXT: &str = "张三，您好：\n\n您的验证码是 123456。\n——通行统一身份认证\n";
const HTML: &str = "<p>张三，您好：</p><p>您的验证码是 <b>123456</b>。</p>";

fn transport(
    server: &SmtpServer,
    password: &str,
    mechanism: Mechanism,
) -> AsyncSmtpTransport<Tokio1Executor> {
    let pem = std::fs::read(server.ca_file()).unwrap();
    let parameters = TlsParameters::builder("localhost".into())
        .add_root_certificate(Certificate::from_pem(&pem).unwrap())
        .build_rustls()
        .unwrap();
    let tls = match server.shared.mode {
        SmtpMode::Plain => Tls::None,
        SmtpMode::StartTls => Tls::Required(parameters),
        SmtpMode::ImplicitTls => Tls::Wrapper(parameters),
    };
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("localhost")
        .port(server.port)
        .tls(tls)
        .credentials(Credentials::new(USER.into(), password.into()))
        .authentication(vec![mechanism])
        .timeout(Some(Duration::from_secs(10)))
        .build()
}

fn mailbox(s: &str) -> Mailbox {
    s.parse().unwrap()
}

#[tokio::test]
async fn the_test_smtp_server_speaks_smtp_over_each_mode() {
    let resolved: Vec<_> = tokio::net::lookup_host(("localhost", 25))
        .await
        .unwrap()
        .map(|a| a.ip())
        .collect();
    assert!(
        resolved.contains(&std::net::Ipv4Addr::LOCALHOST.into()),
        "localhost must resolve to 127.0.0.1, got {resolved:?}"
    );

    for (mode, mechanism) in [
        (SmtpMode::Plain, Mechanism::Login),
        (SmtpMode::StartTls, Mechanism::Plain),
        (SmtpMode::ImplicitTls, Mechanism::Login),
    ] {
        let server = SmtpServer::start(mode, Some((USER, PASSWORD))).await;
        let mailer = transport(&server, PASSWORD, mechanism);

        let html_mail = Message::builder()
            .from(mailbox("通行 <noreply@example.edu>"))
            .to(mailbox("张三 <zhangsan@example.edu>"))
            .subject(SUBJECT)
            .multipart(MultiPart::alternative_plain_html(
                TEXT.to_string(),
                HTML.to_string(),
            ))
            .unwrap();
        mailer.send(html_mail).await.unwrap();
        // lettre returns the connection to its pool in a spawned task; let it
        // run so that the next message reuses the connection.
        tokio::time::sleep(Duration::from_millis(100)).await;
        // A second message over the pooled connection, with lines that
        // need dot-stuffing.
        let plain_mail = Message::builder()
            .from(mailbox("noreply@example.edu"))
            .to(mailbox("a@example.edu"))
            .to(mailbox("b@example.edu"))
            .subject("Plain ASCII")
            .body("line one\n.leading dot\n..two dots\n.\n".to_string())
            .unwrap();
        mailer.send(plain_mail).await.unwrap();

        let received = server.wait_for(2).await;
        assert_eq!(received.len(), 2, "{mode:?}");
        let tls = mode != SmtpMode::Plain;
        let first = &received[0];
        assert_eq!(first.from, "noreply@example.edu");
        assert_eq!(first.to, ["zhangsan@example.edu"]);
        assert_eq!(first.auth_user.as_deref(), Some(USER), "{mode:?}");
        assert_eq!(first.tls, tls, "{mode:?}");
        assert_eq!(first.subject(), SUBJECT, "{mode:?}: {}", first.data);
        assert_eq!(first.text(), TEXT.replace('\n', "\r\n"), "{}", first.data);
        assert_eq!(first.html(), HTML, "{}", first.data);
        let types: Vec<String> = first.parts().into_iter().map(|(t, _)| t).collect();
        assert_eq!(types, ["text/plain", "text/html"]);
        assert!(
            first
                .header("content-type")
                .unwrap()
                .starts_with("multipart/alternative"),
            "{}",
            first.data
        );
        assert!(
            first
                .header("To")
                .unwrap()
                .contains("<zhangsan@example.edu>")
        );

        let second = &received[1];
        assert_eq!(second.to, ["a@example.edu", "b@example.edu"]);
        assert_eq!(second.subject(), "Plain ASCII");
        assert!(
            second
                .text()
                .contains("line one\r\n.leading dot\r\n..two dots\r\n.\r\n"),
            "{:?}",
            second.data
        );
        assert_eq!(second.tls, tls);
        assert_eq!(
            server.connections(),
            1,
            "{mode:?}: the pool reuses the connection"
        );

        // Wrong credentials are refused and nothing is stored.
        let refused = transport(&server, "wrong", mechanism)
            .send(
                Message::builder()
                    .from(mailbox("noreply@example.edu"))
                    .to(mailbox("a@example.edu"))
                    .subject("never")
                    .body("never".to_string())
                    .unwrap(),
            )
            .await;
        assert!(refused.is_err(), "{mode:?}");
        assert_eq!(server.received().len(), 2, "{mode:?}");
    }
}

#[tokio::test]
async fn the_test_smtp_server_requires_starttls_and_auth() {
    async fn command(io: &mut BufReader<TcpStream>, line: &str) -> String {
        if !line.is_empty() {
            reply(io, line).await.unwrap();
        }
        let mut response = String::new();
        loop {
            let line = read_line(io).await.unwrap().unwrap();
            response.push_str(&line);
            response.push('\n');
            if line.as_bytes().get(3) != Some(&b'-') {
                return response;
            }
        }
    }

    let server = SmtpServer::start(SmtpMode::StartTls, Some((USER, PASSWORD))).await;
    let tcp = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let mut io = BufReader::new(tcp);
    assert!(command(&mut io, "").await.starts_with("220 "));
    let ehlo = command(&mut io, "EHLO client.example").await;
    assert!(
        ehlo.contains("250-STARTTLS") || ehlo.contains("250 STARTTLS"),
        "{ehlo}"
    );
    assert!(!ehlo.contains("AUTH"), "{ehlo}");
    let mail = command(&mut io, "MAIL FROM:<a@example.edu>").await;
    assert!(
        mail.starts_with("530 5.7.0 Must issue a STARTTLS command first"),
        "{mail}"
    );
    assert!(
        command(&mut io, "AUTH PLAIN AG1haWxlcgB4")
            .await
            .starts_with("538 ")
    );
    assert!(command(&mut io, "VRFY a").await.starts_with("502 "));
    assert!(command(&mut io, "NOOP").await.starts_with("250 "));
    assert!(command(&mut io, "QUIT").await.starts_with("221 "));

    // Plain mode with credentials: AUTH is offered, MAIL needs it.
    let server = SmtpServer::start(SmtpMode::Plain, Some((USER, PASSWORD))).await;
    let tcp = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let mut io = BufReader::new(tcp);
    command(&mut io, "").await;
    let ehlo = command(&mut io, "EHLO client.example").await;
    assert!(
        ehlo.contains("AUTH PLAIN LOGIN") && !ehlo.contains("STARTTLS"),
        "{ehlo}"
    );
    assert!(
        command(&mut io, "MAIL FROM:<a@example.edu>")
            .await
            .starts_with("530 ")
    );
    let bad = BASE64.encode(format!("\0{USER}\0nope"));
    assert!(
        command(&mut io, &format!("AUTH PLAIN {bad}"))
            .await
            .starts_with("535 ")
    );
    assert!(command(&mut io, "AUTH PLAIN").await.starts_with("334"));
    let good = BASE64.encode(format!("\0{USER}\0{PASSWORD}"));
    assert!(command(&mut io, &good).await.starts_with("235 "));
    assert!(
        command(&mut io, "MAIL FROM:<> BODY=8BITMIME")
            .await
            .starts_with("250 ")
    );
    assert!(command(&mut io, "DATA").await.starts_with("503 "));
    assert!(
        command(&mut io, "RCPT TO:<b@example.edu>")
            .await
            .starts_with("250 ")
    );
    assert!(command(&mut io, "DATA").await.starts_with("354 "));
    let end = command(
        &mut io,
        "Subject: =?utf-8?q?caf=C3=A9_au_lait?=\r\n\r\n..hi\r\n.",
    )
    .await;
    assert!(end.starts_with("250 "), "{end}");
    assert!(command(&mut io, "QUIT").await.starts_with("221 "));

    let received = server.wait_for(1).await;
    assert_eq!(received[0].from, "");
    assert_eq!(received[0].subject(), "café au lait");
    assert_eq!(
        received[0].data,
        "Subject: =?utf-8?q?caf=C3=A9_au_lait?=\r\n\r\n.hi\r\n"
    );
    assert_eq!(received[0].text(), ".hi\r\n");
    assert!(!received[0].tls);
}

#[test]
fn the_test_smtp_server_decodes_mime() {
    let data = [
        "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_?=",
        " =?utf-8?B?5L2g5aW9?= (x)",
        "Content-Type: multipart/mixed; boundary=outer",
        "",
        "preamble",
        "--outer",
        "Content-Type: multipart/alternative; boundary=\"in ner\"",
        "",
        "--in ner",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        "Gr=C3=BC=C3=9Fe, a long line that is soft=",
        "ly broken",
        "--in ner",
        "Content-Type: TEXT/HTML; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        "<p>你好</p>",
        "--in ner--",
        "--outer",
        "Content-Type: application/pdf",
        "Content-Transfer-Encoding: base64",
        "",
        "JVBERi0=",
        "--outer--",
        "",
    ]
    .join("\r\n");
    let mail = Received {
        from: String::new(),
        to: Vec::new(),
        data,
        auth_user: None,
        tls: false,
    };
    assert_eq!(mail.subject(), "Grüße 你好 (x)");
    assert_eq!(
        mail.parts(),
        [
            (
                "text/plain".to_string(),
                "Grüße, a long line that is softly broken".to_string()
            ),
            ("text/html".to_string(), "<p>你好</p>".to_string()),
        ]
    );
    assert_eq!(mail.text(), "Grüße, a long line that is softly broken");
    assert_eq!(mail.html(), "<p>你好</p>");
    assert_eq!(
        mail.header("CONTENT-type").as_deref(),
        Some("multipart/mixed; boundary=outer")
    );
    assert_eq!(mail.header("X-Missing"), None);
}
