//! Flow logic, free of HTTP types: handlers and the CLI call these.

pub mod access;
pub mod accounts;
pub mod acr;
pub mod admin;
pub mod app_passwords;
pub mod audit;
pub mod audit_writer;
pub mod blocks;
pub mod calendar;
pub mod clients;
pub mod codes;
pub mod consents;
pub mod device;
pub mod documents;
pub mod dpop;
pub mod import;
pub mod introspection;
pub mod keys;
pub mod ldap;
pub mod login;
pub mod logout;
pub mod mail;
pub mod org_import;
pub mod organizations;
pub mod password_check;
pub mod phone;
pub mod recovery;
pub mod registration;
pub mod retrieval;
pub mod retrieval_case;
pub mod retrieval_form;
pub mod review;
pub mod reviewing;
pub mod security_email;
pub mod sessions;
pub mod step_up;
pub mod tickets;
pub mod tokens;
pub mod unbind;
pub mod unbind_case;

use uuid::Uuid;

/// Where a request came from, for rate limits and the audit log.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Origin {
    pub fn cli() -> Self {
        Self {
            ip: None,
            user_agent: Some(format!("tongxing-cli/{}", env!("CARGO_PKG_VERSION"))),
        }
    }
}

/// Who performs an action, as the audit log names them.
#[derive(Debug, Clone)]
pub enum Actor {
    /// Not signed in (a login attempt, a recovery request …).
    Anonymous,
    User {
        id: Uuid,
        username: String,
    },
    /// An operator on the server's command line (the OS user when known).
    Cli {
        os_user: String,
    },
    /// Tongxing itself (first-start bootstrap, background jobs).
    System,
    /// A service account (a client with the admin scope) calling the API.
    Service {
        client_id: String,
    },
}

impl Actor {
    pub fn cli() -> Self {
        let os_user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".into());
        Actor::Cli { os_user }
    }

    pub fn user(user: &crate::store::users::User) -> Self {
        Actor::User {
            id: user.id,
            username: user.username.clone(),
        }
    }

    pub fn id(&self) -> Option<Uuid> {
        match self {
            Actor::User { id, .. } => Some(*id),
            _ => None,
        }
    }

    pub fn label(&self) -> String {
        match self {
            Actor::Anonymous => "anonymous".into(),
            Actor::User { username, .. } => username.clone(),
            Actor::Cli { os_user } => format!("cli:{os_user}"),
            Actor::System => "system".into(),
            Actor::Service { client_id } => format!("client:{client_id}"),
        }
    }
}
