//! Image captcha for the anonymous forms that cost us something (SMS
//! sending, recovery). `image`: a generated picture, the answer kept
//! server-side in the ephemeral store (so any node checks it), single use,
//! expiring. `none`: for automated tests only — it accepts anything, warns
//! at start and is refused in production.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::config::CaptchaProvider;
use crate::crypto::random;
use crate::ephemeral::{Ephemeral, EphemeralError};

/// A challenge to show: its id (sent back with the answer) and the image
/// as a `data:` URI (`None` with the `none` provider).
#[derive(Debug, Clone)]
pub struct Challenge {
    pub id: String,
    pub image: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CaptchaError {
    #[error("{0}")]
    Ephemeral(#[from] EphemeralError),
    #[error("captcha generation failed")]
    Generation,
    /// The address drew too many challenges; it may draw again after this.
    #[error("too many captcha challenges from this address")]
    TooMany(Duration),
}

#[derive(Clone)]
pub struct Captcha {
    provider: CaptchaProvider,
    ephemeral: Ephemeral,
    ttl: Duration,
    /// Challenges per client address and hour (0: no limit).
    address_hourly_limit: u32,
}

const HOUR: Duration = Duration::from_secs(3600);

fn key(id: &str) -> String {
    format!("captcha:{id}")
}

impl Captcha {
    pub fn new(
        provider: CaptchaProvider,
        ephemeral: Ephemeral,
        ttl: Duration,
        address_hourly_limit: u32,
    ) -> Self {
        if provider == CaptchaProvider::None {
            tracing::warn!(
                "captcha is OFF (captcha.provider = \"none\"): for automated tests only"
            );
        }
        Self {
            provider,
            ephemeral,
            ttl,
            address_hourly_limit,
        }
    }

    /// A new challenge for the client at `address`, within its hourly
    /// allowance (rendering images is work a stranger could ask for).
    pub async fn challenge(&self, address: Option<&str>) -> Result<Challenge, CaptchaError> {
        if self.address_hourly_limit > 0 {
            let counter = format!("captcha-ip:{}", address.unwrap_or("unknown"));
            let drawn = self.ephemeral.incr(&counter, HOUR).await?;
            if drawn > i64::from(self.address_hourly_limit) {
                let wait = self.ephemeral.ttl(&counter).await?.unwrap_or(HOUR);
                return Err(CaptchaError::TooMany(wait));
            }
        }
        let id = random::token().map_err(|_| CaptchaError::Generation)?;
        if self.provider == CaptchaProvider::None {
            return Ok(Challenge { id, image: None });
        }
        let (answer, png) = tokio::task::spawn_blocking(|| {
            let mut c = captcha::Captcha::new();
            // Letters and digits that do not look alike.
            c.set_chars(&"abcdefhkmnprstuvwxyz2345678".chars().collect::<Vec<_>>())
                .add_chars(5)
                .apply_filter(captcha::filters::Noise::new(0.2))
                .apply_filter(captcha::filters::Wave::new(2.0, 12.0))
                .view(180, 64)
                .apply_filter(captcha::filters::Dots::new(8));
            c.as_tuple()
        })
        .await
        .map_err(|_| CaptchaError::Generation)?
        .ok_or(CaptchaError::Generation)?;
        self.ephemeral
            .set(&key(&id), &answer.to_lowercase(), self.ttl)
            .await?;
        Ok(Challenge {
            id,
            image: Some(format!("data:image/png;base64,{}", STANDARD.encode(png))),
        })
    }

    /// Checks an answer. A challenge can be answered once, right or wrong.
    pub async fn check(&self, id: &str, answer: &str) -> Result<bool, CaptchaError> {
        if self.provider == CaptchaProvider::None {
            return Ok(true);
        }
        if id.len() > 128 {
            return Ok(false);
        }
        let Some(expected) = self.ephemeral.take(&key(id)).await? else {
            return Ok(false);
        };
        let given = answer.trim().to_lowercase();
        Ok(random::constant_time_eq(
            expected.as_bytes(),
            given.as_bytes(),
        ))
    }

    /// The answer of a live challenge, for tests that play the user.
    #[doc(hidden)]
    pub async fn peek_answer(&self, id: &str) -> Result<Option<String>, CaptchaError> {
        Ok(self.ephemeral.get(&key(id)).await?)
    }
}
