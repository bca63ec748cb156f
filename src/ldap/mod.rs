//! The read-only LDAP listener (RFC 4511) for mail servers and other
//! legacy applications: framing by `ldap3_proto`, LDAPS and StartTLS
//! (RFC 4513 §3) with the configured certificate, and one task per
//! connection. What a bind or a search means is `service::ldap`'s; this
//! module only speaks the protocol.
//!
//! ```text
//! accept (a slot of ldap.max_connections) ─▶ [TLS for LDAPS] ─▶ messages:
//!   bind (simple, v3)   ─▶ plain and not loopback? confidentialityRequired
//!                       ─▶ service::ldap::bind ─▶ success | 49 + diagnostic
//!   search              ─▶ root DSE (base "", scope base): anyone
//!                       ─▶ else service::ldap::search (applications only)
//!   extended            ─▶ StartTLS ─▶ success, then the handshake
//!                       ─▶ Who am I? (RFC 4532)
//!   add/modify/delete/modDN/compare ─▶ unwillingToPerform (read-only)
//!   a message that does not decode ─▶ Notice of Disconnection with
//!                                     protocolError, the connection closes
//! ```
//!
//! Plain LDAP carries passwords in the clear: a connection that is neither
//! TLS nor from this host may do nothing but StartTLS, the root DSE and
//! Who am I.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ldap3_proto::proto::{
    LdapBindCred, LdapBindResponse, LdapExtendedResponse, LdapFilter, LdapOp, LdapResult,
    LdapSearchRequest, LdapSearchResultEntry, OID_WHOAMI,
};
use ldap3_proto::{DisconnectionNotice, LdapCodec, LdapMsg, LdapPartialAttribute, LdapResultCode};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::codec::Framed;

use crate::config::LdapConfig;
use crate::service::Origin;
use crate::service::ldap::{self as svc, BindRefusal, Principal, SearchRefusal};
use crate::state::AppState;

/// RFC 4511 §4.14.1.
const OID_START_TLS: &str = "1.3.6.1.4.1.1466.20037";
/// The largest message taken (a bind or a search is far smaller).
const MAX_MESSAGE: usize = 16 * 1024;
/// A TLS handshake that takes longer is dropped.
const HANDSHAKE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum LdapError {
    #[error("ldap: cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("ldap.certificate / ldap.private_key: {0}")]
    Tls(String),
}

/// The bound listeners, not yet serving.
pub struct Listeners {
    plain: Option<TcpListener>,
    tls: Option<TcpListener>,
    acceptor: Option<TlsAcceptor>,
}

impl Listeners {
    /// Binds what `config` asks for (nothing when LDAP is off) and loads
    /// the certificate, so a bad one stops the start.
    pub async fn bind(config: &LdapConfig) -> Result<Option<Listeners>, LdapError> {
        if !config.enabled {
            return Ok(None);
        }
        let acceptor = match (&config.certificate, &config.private_key) {
            (Some(cert), Some(key)) => Some(tls_acceptor(cert, key)?),
            _ => None,
        };
        let listen = |addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| LdapError::Bind { addr, source })
        };
        let plain = match config.listen {
            Some(addr) => Some(listen(addr).await?),
            None => None,
        };
        let tls = match config.listen_tls {
            Some(addr) => Some(listen(addr).await?),
            None => None,
        };
        Ok(Some(Listeners {
            plain,
            tls,
            acceptor,
        }))
    }

    /// The plain (StartTLS) address and the LDAPS address.
    pub fn addrs(&self) -> (Option<SocketAddr>, Option<SocketAddr>) {
        let addr = |l: &Option<TcpListener>| l.as_ref().and_then(|l| l.local_addr().ok());
        (addr(&self.plain), addr(&self.tls))
    }

    /// Serves on a task per listener until the handles are aborted.
    pub fn spawn(self, state: AppState) -> Vec<JoinHandle<()>> {
        let slots = Arc::new(Semaphore::new(state.config.ldap.max_connections));
        let mut tasks = Vec::new();
        for (listener, implicit_tls) in [(self.plain, false), (self.tls, true)] {
            if let Some(listener) = listener {
                tracing::info!(addr = ?listener.local_addr().ok(), tls = implicit_tls, "LDAP listening");
                tasks.push(tokio::spawn(accept_loop(
                    state.clone(),
                    listener,
                    self.acceptor.clone(),
                    implicit_tls,
                    slots.clone(),
                )));
            }
        }
        tasks
    }
}

fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, LdapError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls::ServerConfig;
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| LdapError::Tls(format!("{}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(LdapError::Tls(format!(
            "{}: no certificate in it",
            cert.display()
        )));
    }
    let private_key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| LdapError::Tls(format!("{}: {e}", key.display())))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| LdapError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, private_key)
        .map_err(|e| LdapError::Tls(e.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

async fn accept_loop(
    state: AppState,
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    implicit_tls: bool,
    slots: Arc<Semaphore>,
) {
    loop {
        // Past max_connections, new connections wait in the backlog.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (socket, peer) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %e, "LDAP accept");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (state, acceptor) = (state.clone(), acceptor.clone());
        tokio::spawn(async move {
            connection(state, socket, peer, acceptor, implicit_tls).await;
            drop(slot);
        });
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Conn = Framed<Box<dyn Io>, LdapCodec>;

fn framed(io: Box<dyn Io>) -> Conn {
    Framed::new(io, LdapCodec::new(Some(MAX_MESSAGE), None))
}

/// One connection's state.
struct Session {
    principal: Principal,
    tls: bool,
    peer: SocketAddr,
    origin: Origin,
}

impl Session {
    /// May credentials and directory data cross this connection?
    fn confidential(&self) -> bool {
        self.tls || self.peer.ip().is_loopback()
    }
}

/// What a message asks the connection to do.
enum Step {
    Reply(Vec<LdapMsg>),
    /// Answer StartTLS, then shake hands.
    StartTls(LdapMsg),
    /// A Notice of Disconnection (RFC 4511 §4.4.1), then close.
    Disconnect(LdapMsg),
    Close,
}

async fn connection(
    state: AppState,
    socket: TcpStream,
    peer: SocketAddr,
    acceptor: Option<TlsAcceptor>,
    implicit_tls: bool,
) {
    let io: Box<dyn Io> = if implicit_tls {
        let Some(acceptor) = &acceptor else { return };
        match tokio::time::timeout(HANDSHAKE, acceptor.accept(socket)).await {
            Ok(Ok(tls)) => Box::new(tls),
            _ => return,
        }
    } else {
        Box::new(socket)
    };
    let mut conn = framed(io);
    let mut session = Session {
        principal: Principal::Anonymous,
        tls: implicit_tls,
        peer,
        origin: Origin {
            ip: Some(peer.ip().to_string()),
            user_agent: Some("ldap".into()),
        },
    };
    let idle = Duration::from_secs(state.config.ldap.idle_timeout_secs);
    loop {
        let step = match tokio::time::timeout(idle, conn.next()).await {
            Err(_) | Ok(None) => return,
            Ok(Some(Ok(msg))) => step(&state, &mut session, acceptor.is_some(), msg).await,
            Ok(Some(Err(e))) => {
                // RFC 4511 §4.1.1: a PDU that cannot be parsed ends the
                // connection with a Notice of Disconnection.
                tracing::debug!(%peer, error = %e, "malformed LDAP message");
                Step::Disconnect(DisconnectionNotice::gen_response(
                    LdapResultCode::ProtocolError,
                    "malformed LDAP message",
                ))
            }
        };
        match step {
            Step::Reply(replies) => {
                for reply in replies {
                    if conn.feed(reply).await.is_err() {
                        return;
                    }
                }
                if conn.flush().await.is_err() {
                    return;
                }
            }
            Step::StartTls(reply) => {
                if conn.send(reply).await.is_err() {
                    return;
                }
                let Some(acceptor) = &acceptor else { return };
                let parts = conn.into_parts();
                // Nothing may follow the request before the handshake
                // (RFC 4511 §4.14.1).
                if !parts.read_buf.is_empty() {
                    return;
                }
                match tokio::time::timeout(HANDSHAKE, acceptor.accept(parts.io)).await {
                    Ok(Ok(tls)) => conn = framed(Box::new(tls)),
                    _ => return,
                }
                session.tls = true;
            }
            Step::Disconnect(notice) => {
                let _ = conn.send(notice).await;
                return;
            }
            Step::Close => return,
        }
    }
}

fn result(code: LdapResultCode, message: impl Into<String>) -> LdapResult {
    LdapResult {
        code,
        matcheddn: String::new(),
        message: message.into(),
        referral: Vec::new(),
    }
}

fn reply(msgid: i32, op: LdapOp) -> Step {
    Step::Reply(vec![LdapMsg::new(msgid, op)])
}

fn bind_response(msgid: i32, code: LdapResultCode, message: impl Into<String>) -> Step {
    reply(
        msgid,
        LdapOp::BindResponse(LdapBindResponse {
            res: result(code, message),
            saslcreds: None,
        }),
    )
}

fn extended_response(
    msgid: i32,
    code: LdapResultCode,
    message: &str,
    name: Option<&str>,
    value: Option<Vec<u8>>,
) -> Step {
    reply(
        msgid,
        LdapOp::ExtendedResponse(LdapExtendedResponse {
            res: result(code, message),
            name: name.map(String::from),
            value,
        }),
    )
}

const READ_ONLY: &str = "this directory is read-only";
const CONFIDENTIALITY: &str = "use StartTLS or LDAPS: plain LDAP is served to this host only";

async fn step(state: &AppState, session: &mut Session, has_tls: bool, msg: LdapMsg) -> Step {
    let id = msg.msgid;
    match msg.op {
        LdapOp::BindRequest(req) => {
            // A bind starts over as anonymous, whatever it ends in.
            session.principal = Principal::Anonymous;
            if req.version != 3 {
                return bind_response(id, LdapResultCode::ProtocolError, "LDAP version 3 only");
            }
            let LdapBindCred::Simple(password) = req.cred else {
                return bind_response(
                    id,
                    LdapResultCode::AuthMethodNotSupported,
                    "simple bind only",
                );
            };
            if req.dn.is_empty() && password.is_empty() {
                return bind_response(id, LdapResultCode::Success, "");
            }
            if password.is_empty() {
                // RFC 4513 §5.1.2: an unauthenticated bind (a name, no
                // password) would look like a success to a careless client.
                return bind_response(
                    id,
                    LdapResultCode::UnwillingToPerform,
                    "unauthenticated binds are refused: give a password",
                );
            }
            if !session.confidential() {
                return bind_response(id, LdapResultCode::ConfidentialityRequired, CONFIDENTIALITY);
            }
            match svc::bind(state, &req.dn, &password, &session.origin).await {
                Ok(principal) => {
                    session.principal = principal;
                    bind_response(id, LdapResultCode::Success, "")
                }
                Err(refusal) => {
                    let code = match refusal {
                        BindRefusal::InvalidDn => LdapResultCode::InvalidDNSyntax,
                        BindRefusal::Busy => LdapResultCode::Busy,
                        BindRefusal::Unavailable => LdapResultCode::Unavailable,
                        _ => LdapResultCode::InvalidCredentials,
                    };
                    bind_response(id, code, refusal.message())
                }
            }
        }
        LdapOp::UnbindRequest => Step::Close,
        LdapOp::SearchRequest(req) => search(state, session, has_tls, id, req).await,
        LdapOp::ExtendedRequest(req) => match req.name.as_str() {
            OID_START_TLS if session.tls => extended_response(
                id,
                LdapResultCode::OperationsError,
                "TLS is already established",
                None,
                None,
            ),
            OID_START_TLS if !has_tls => extended_response(
                id,
                LdapResultCode::ProtocolError,
                "StartTLS is not offered: no certificate is configured",
                None,
                None,
            ),
            OID_START_TLS => {
                match extended_response(id, LdapResultCode::Success, "", Some(OID_START_TLS), None)
                {
                    Step::Reply(mut msgs) => match msgs.pop() {
                        Some(msg) => Step::StartTls(msg),
                        None => Step::Close,
                    },
                    other => other,
                }
            }
            OID_WHOAMI => extended_response(
                id,
                LdapResultCode::Success,
                "",
                None,
                Some(session.principal.authz_id().into_bytes()),
            ),
            _ => extended_response(
                id,
                LdapResultCode::ProtocolError,
                "unsupported extended operation",
                None,
                None,
            ),
        },
        LdapOp::AbandonRequest(_) => Step::Reply(Vec::new()),
        LdapOp::AddRequest(_) => reply(
            id,
            LdapOp::AddResponse(result(LdapResultCode::UnwillingToPerform, READ_ONLY)),
        ),
        LdapOp::ModifyRequest(_) => reply(
            id,
            LdapOp::ModifyResponse(result(LdapResultCode::UnwillingToPerform, READ_ONLY)),
        ),
        LdapOp::DelRequest(_) => reply(
            id,
            LdapOp::DelResponse(result(LdapResultCode::UnwillingToPerform, READ_ONLY)),
        ),
        LdapOp::ModifyDNRequest(_) => reply(
            id,
            LdapOp::ModifyDNResponse(result(LdapResultCode::UnwillingToPerform, READ_ONLY)),
        ),
        LdapOp::CompareRequest(_) => reply(
            id,
            LdapOp::CompareResult(result(
                LdapResultCode::UnwillingToPerform,
                "compare is not offered: bind to check a password",
            )),
        ),
        // A response, or anything else a client never sends.
        _ => Step::Disconnect(DisconnectionNotice::gen_response(
            LdapResultCode::ProtocolError,
            "not a request",
        )),
    }
}

async fn search(
    state: &AppState,
    session: &Session,
    has_tls: bool,
    id: i32,
    req: LdapSearchRequest,
) -> Step {
    let done = |code: LdapResultCode, message: &str| {
        LdapMsg::new(id, LdapOp::SearchResultDone(result(code, message)))
    };
    if req.base.is_empty() && req.scope == ldap3_proto::LdapSearchScope::Base {
        return Step::Reply(vec![
            LdapMsg::new(
                id,
                LdapOp::SearchResultEntry(root_dse(state, session, has_tls)),
            ),
            done(LdapResultCode::Success, ""),
        ]);
    }
    if !session.confidential() {
        return Step::Reply(vec![done(
            LdapResultCode::ConfidentialityRequired,
            CONFIDENTIALITY,
        )]);
    }
    let query = svc::Search {
        base: req.base,
        scope: match req.scope {
            ldap3_proto::LdapSearchScope::Base => svc::Scope::Base,
            ldap3_proto::LdapSearchScope::OneLevel => svc::Scope::OneLevel,
            _ => svc::Scope::Subtree,
        },
        filter: filter(req.filter),
        attrs: req.attrs,
        size_limit: usize::try_from(req.sizelimit).unwrap_or(0),
    };
    let entries = |found: Vec<svc::Found>| {
        found.into_iter().map(|f| {
            LdapMsg::new(
                id,
                LdapOp::SearchResultEntry(LdapSearchResultEntry {
                    dn: f.dn,
                    attributes: f
                        .attributes
                        .into_iter()
                        .map(|(atype, vals)| LdapPartialAttribute {
                            atype,
                            vals: if req.typesonly {
                                Vec::new()
                            } else {
                                vals.into_iter().map(String::into_bytes).collect()
                            },
                        })
                        .collect(),
                }),
            )
        })
    };
    match svc::search(state, &session.principal, &query).await {
        Ok(found) => Step::Reply(
            entries(found)
                .chain([done(LdapResultCode::Success, "")])
                .collect(),
        ),
        Err(SearchRefusal::SizeLimit(found)) => Step::Reply(
            entries(found)
                .chain([done(
                    LdapResultCode::SizeLimitExceeded,
                    "more entries than the size limit",
                )])
                .collect(),
        ),
        Err(SearchRefusal::NotAllowed) => Step::Reply(vec![done(
            LdapResultCode::InsufficentAccessRights,
            "only an application allowed to search may search: bind as cn=<client_id>,ou=services,<base>",
        )]),
        Err(SearchRefusal::NoSuchObject) => Step::Reply(vec![done(
            LdapResultCode::NoSuchObject,
            "the base is not in this directory",
        )]),
        Err(SearchRefusal::Unavailable) => Step::Reply(vec![done(
            LdapResultCode::Unavailable,
            "the passport's storage is unavailable",
        )]),
    }
}

/// The root DSE (RFC 4512 §5.1): what the server offers.
fn root_dse(state: &AppState, session: &Session, has_tls: bool) -> LdapSearchResultEntry {
    let attr = |atype: &str, vals: &[&str]| LdapPartialAttribute {
        atype: atype.into(),
        vals: vals.iter().map(|v| v.as_bytes().to_vec()).collect(),
    };
    let mut extensions = vec![OID_WHOAMI];
    if has_tls && !session.tls {
        extensions.push(OID_START_TLS);
    }
    LdapSearchResultEntry {
        dn: String::new(),
        attributes: vec![
            attr("objectClass", &["top"]),
            attr("namingContexts", &[state.config.ldap.base_dn.as_str()]),
            attr("supportedLDAPVersion", &["3"]),
            attr("supportedExtension", &extensions),
            attr("vendorName", &["Tongxing"]),
        ],
    }
}

fn filter(f: LdapFilter) -> svc::Filter {
    use svc::Filter as F;
    match f {
        LdapFilter::And(parts) => F::And(parts.into_iter().map(filter).collect()),
        LdapFilter::Or(parts) => F::Or(parts.into_iter().map(filter).collect()),
        LdapFilter::Not(inner) => F::Not(Box::new(filter(*inner))),
        LdapFilter::Equality(a, v) | LdapFilter::Approx(a, v) => F::Equality(a, v),
        LdapFilter::Present(a) => F::Present(a),
        LdapFilter::Substring(attr, s) => F::Substring {
            attr,
            initial: s.initial,
            any: s.any,
            last: s.final_,
        },
        LdapFilter::GreaterOrEqual(a, v) => F::GreaterOrEqual(a, v),
        LdapFilter::LessOrEqual(a, v) => F::LessOrEqual(a, v),
        LdapFilter::Extensible(_) => F::Undefined,
    }
}
