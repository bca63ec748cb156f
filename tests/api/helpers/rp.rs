//! Relying parties registered for a test.

use tongxing::service::{Actor, Origin};

use super::TestApp;

/// A registered relying party, as a test uses it.
#[derive(Clone, Debug)]
pub struct Rp {
    pub id: String,
    pub secret: Option<String>,
    pub redirect_uri: String,
}

pub const REDIRECT: &str = "https://rp.example.org/callback";

impl TestApp {
    /// Registers a client; `customize` adjusts the registration.
    pub async fn rp_with(
        &self,
        id: &str,
        customize: impl FnOnce(&mut tongxing::service::clients::NewClient),
    ) -> Rp {
        let mut input = tongxing::service::clients::NewClient {
            id: id.into(),
            name: format!("App {id}"),
            redirect_uris: vec![REDIRECT.into()],
            post_logout_redirect_uris: vec!["https://rp.example.org/bye".into()],
            ..Default::default()
        };
        customize(&mut input);
        let redirect_uri = input.redirect_uris.first().cloned().unwrap_or_default();
        let (c, secret) = tongxing::service::clients::register(
            &self.state,
            input,
            &Actor::System,
            &Origin::default(),
        )
        .await
        .unwrap();
        Rp {
            id: c.id,
            secret,
            redirect_uri,
        }
    }

    pub async fn rp(&self, id: &str) -> Rp {
        self.rp_with(id, |_| {}).await
    }
}

/// Query parameters of a URL.
pub fn query(url: &str) -> std::collections::HashMap<String, String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}
