//! A browser: a cookie jar that reads pages and submits their forms.

use std::sync::Arc;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// `/account`'s answer to a browser that is not signed in ([`Page::redirect`]).
pub const SIGN_IN_FIRST: (StatusCode, Option<&str>) =
    (StatusCode::SEE_OTHER, Some("/login?return_to=%2Faccount"));

/// A browser: cookie jar on, redirects off (tests follow them explicitly).
pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
    jar: Arc<reqwest::cookie::Jar>,
}

#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    async fn from(resp: reqwest::Response) -> Page {
        Page {
            status: resp.status(),
            headers: resp.headers().clone(),
            body: resp.text().await.unwrap(),
        }
    }

    pub fn location(&self) -> Option<&str> {
        self.headers.get("location").and_then(|v| v.to_str().ok())
    }

    /// The status with the `Location`, so that one comparison checks both
    /// that the answer redirects and where to.
    pub fn redirect(&self) -> (StatusCode, Option<&str>) {
        (self.status, self.location())
    }

    /// The CSRF token of the first form on the page.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self
            .body
            .find(marker)
            .unwrap_or_else(|| panic!("no CSRF field in:\n{}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').unwrap();
        self.body[start..start + end].to_string()
    }

    pub fn has(&self, text: &str) -> bool {
        self.body.contains(text)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser {
            client,
            base: base.to_string(),
            jar,
        }
    }

    /// A browser that names itself by `user_agent`.
    pub fn with_user_agent(base: &str, user_agent: &str) -> Browser {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(user_agent)
            .build()
            .unwrap();
        Browser {
            client,
            base: base.to_string(),
            jar,
        }
    }

    /// The same cookie jar pointed at another node.
    pub fn at(&self, base: &str) -> Browser {
        Browser {
            client: self.client.clone(),
            base: base.to_string(),
            jar: self.jar.clone(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Page {
        Page::from(self.client.get(self.url(path)).send().await.unwrap()).await
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Page {
        let mut req = self.client.get(self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Page::from(req.send().await.unwrap()).await
    }

    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        Page::from(
            self.client
                .post(self.url(path))
                .form(fields)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Posts a `multipart/form-data` body, as a browser sends a form with
    /// file inputs: `fields` as text parts, `files` as (input name, file
    /// name, content type, bytes).
    pub async fn post_multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &str, Vec<u8>)],
    ) -> Page {
        let boundary = "----tongxing-test-boundary-7d1e";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
        }
        for (name, file_name, content_type, bytes) in files {
            body.extend(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend(bytes);
            body.extend(b"\r\n");
        }
        body.extend(format!("--{boundary}--\r\n").as_bytes());
        Page::from(
            self.client
                .post(self.url(path))
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Opens `page`, takes its CSRF token and posts `fields` to `action`.
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.get(page).await.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_form(action, &all).await
    }

    /// Follows a form's answer the way a browser does after a POST: the
    /// answer must be a 303 to `to` (post-redirect-get), and the page there
    /// is returned.
    pub async fn redirected(&self, answer: Page, to: &str) -> Page {
        assert_eq!(
            (answer.status, answer.location()),
            (StatusCode::SEE_OTHER, Some(to)),
            "expected a redirect to {to}: {}",
            answer.body
        );
        self.get(to).await
    }

    pub async fn login(&self, identifier: &str, password: &str) -> Page {
        self.submit(
            "/login",
            "/login",
            &[("identifier", identifier), ("password", password)],
        )
        .await
    }

    /// The value of a cookie the jar would send to this node.
    pub fn cookie(&self, name: &str) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let url = reqwest::Url::parse(&self.base).unwrap();
        let header = self.jar.cookies(&url)?;
        header.to_str().ok()?.split(';').find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == name).then(|| v.to_string())
        })
    }
}

/// `body` without the `data-label="…"` attributes the console's table
/// cells carry (their cards on a phone), to compare cells as text.
pub fn without_labels(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(i) = rest.find(" data-label=\"") {
        out.push_str(&rest[..i]);
        let after = &rest[i + " data-label=\"".len()..];
        rest = after.find('"').map_or("", |j| &after[j + 1..]);
    }
    out.push_str(rest);
    out
}

/// Undoes askama's HTML escaping of attribute values.
pub fn unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

impl Page {
    /// Every `<input type="hidden" name=… value=…>` of the page.
    pub fn hidden_fields(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for chunk in self.body.split("<input type=\"hidden\" name=\"").skip(1) {
            let Some((name, rest)) = chunk.split_once('"') else {
                continue;
            };
            let Some(value) = rest
                .strip_prefix(" value=\"")
                .and_then(|r| r.split_once('"'))
                .map(|(v, _)| v)
            else {
                continue;
            };
            out.push((name.to_string(), unescape(value)));
        }
        out
    }
}

impl Browser {
    /// Posts a page's form: its hidden fields plus `fields`.
    pub async fn submit_page(&self, page: &Page, action: &str, fields: &[(&str, &str)]) -> Page {
        // The first form's hidden fields (a page may hold several forms).
        let mut all: Vec<(String, String)> = Vec::new();
        for (k, v) in page.hidden_fields() {
            if !all.iter().any(|(seen, _)| *seen == k) {
                all.push((k, v));
            }
        }
        all.retain(|(k, _)| !fields.iter().any(|(f, _)| f == k));
        all.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Page::from(
            self.client
                .post(format!("{}{action}", self.base))
                .form(&all)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Drives an authorization request through login (when asked) and
    /// consent (when shown, answering `decision`) and returns the final
    /// redirect to the client.
    pub async fn authorize_as(
        &self,
        url: &str,
        user: &str,
        password: &str,
        decision: &str,
    ) -> String {
        let path = url.strip_prefix(&self.base).unwrap_or(url).to_string();
        let mut page = self.get(&path).await;
        for _ in 0..6 {
            if page.status == StatusCode::OK && page.has("action=\"/authorize/consent\"") {
                page = self
                    .submit_page(&page, "/authorize/consent", &[("decision", decision)])
                    .await;
                continue;
            }
            if page.status == StatusCode::OK && page.has("action=\"/login\"") {
                page = self
                    .submit_page(
                        &page,
                        "/login",
                        &[("identifier", user), ("password", password)],
                    )
                    .await;
                continue;
            }
            let Some(location) = page.location().map(str::to_string) else {
                panic!("authorization stopped at {}: {}", page.status, page.body);
            };
            if !location.starts_with('/') {
                return location;
            }
            page = self.get(&location).await;
        }
        panic!("too many steps");
    }
}

impl Browser {
    /// A browser whose every request carries `X-Forwarded-For: forwarded`
    /// (as if a proxy in front of the server had added it).
    pub fn forwarded_for(base: &str, forwarded: &str) -> Browser {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", forwarded.parse().unwrap());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()
            .unwrap();
        Browser {
            client,
            base: base.to_string(),
            jar,
        }
    }
}
