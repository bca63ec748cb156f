//! The management API's errors say what was wrong in the request's terms:
//! a problem document (RFC 9457) whose `field` names the member, parameter,
//! path id or header at fault, for every kind of bad input — and never a
//! Rust type name.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::admin_api::{Api, admin_token};
use crate::helpers::TestApp;

/// Words that only our Rust insides would use.
const LEAKS: [&str; 12] = [
    "struct ",
    "enum ",
    "::",
    "JwkSet",
    "CreateUser",
    "UpdateUser",
    "CreateClient",
    "Rotate",
    "StatusChange",
    "SearchQuery",
    "i64",
    "Option<",
];

fn leaks(text: &str) -> Vec<&'static str> {
    LEAKS.into_iter().filter(|w| text.contains(w)).collect()
}

struct Raw {
    base: String,
    token: String,
}

struct Answer {
    status: StatusCode,
    content_type: String,
    body: Value,
    text: String,
}

impl Raw {
    async fn send(&self, method: &str, path: &str, ctype: Option<&str>, body: &str) -> Answer {
        let mut req = reqwest::Client::new()
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(c) = ctype {
            req = req.header("content-type", c);
        }
        if !body.is_empty() {
            req = req.body(body.to_string());
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let content_type = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            content_type,
            body,
            text,
        }
    }

    async fn json(&self, method: &str, path: &str, body: &str) -> Answer {
        self.send(method, path, Some("application/json"), body)
            .await
    }
}

/// A problem document with this status, `field` and `detail`, in plain words.
#[track_caller]
fn problem(a: &Answer, status: StatusCode, field: &str, detail: &str) {
    assert_eq!(a.status, status, "{}", a.text);
    assert_eq!(a.content_type, "application/problem+json", "{}", a.text);
    assert_eq!(a.body["status"], status.as_u16(), "{}", a.text);
    assert_eq!(a.body["field"], field, "{}", a.text);
    let got = a.body["detail"].as_str().unwrap();
    assert!(got.contains(detail), "{got:?} lacks {detail:?}");
    assert!(
        leaks(&a.text).is_empty(),
        "{:?} in {}",
        leaks(&a.text),
        a.text
    );
}

#[test]
fn the_leak_check_sees_rust_names() {
    // Positive control for every `leaks(..).is_empty()` below: serde's own
    // wording (what the API answered before) is caught.
    for serde_said in [
        "invalid type: integer `1`, expected struct CreateUser at line 1 column 1",
        "not a JWK set: data did not match any variant of untagged enum AlgorithmParameters",
        "invalid type: string \"x\", expected i64",
    ] {
        assert!(!leaks(serde_said).is_empty(), "{serde_said}");
    }
    assert!(leaks("`admin` must be true or false, not a string").is_empty());
}

#[tokio::test]
async fn bodies_of_the_wrong_shape_name_the_member() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let api = Api::new(&app, &token);
    let raw = Raw {
        base: app.base.clone(),
        token: token.clone(),
    };
    let user = app.user("shape@cnic.cn").await;
    let at = format!("/api/v1/users/{}", user.id);

    // Wrong JSON type, and its control.
    let a = raw
        .json(
            "PATCH",
            &at,
            &format!(r#"{{"version":{},"admin":"yes"}}"#, user.version),
        )
        .await;
    problem(
        &a,
        StatusCode::UNPROCESSABLE_ENTITY,
        "admin",
        "`admin` must be true or false, not a string",
    );
    let a = raw
        .json(
            "PATCH",
            &at,
            &format!(r#"{{"version":"{}"}}"#, user.version),
        )
        .await;
    problem(
        &a,
        StatusCode::UNPROCESSABLE_ENTITY,
        "version",
        "must be a whole number, not a string",
    );
    let (status, _) = api
        .call(
            "PATCH",
            &at,
            Some(json!({ "version": user.version, "admin": false })),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "control: the same change, well typed"
    );

    // Missing member; unknown member (with the known ones listed).
    let a = raw.json("POST", "/api/v1/users", "{}").await;
    problem(
        &a,
        StatusCode::UNPROCESSABLE_ENTITY,
        "username",
        "`username` is required",
    );
    let a = raw
        .json(
            "POST",
            "/api/v1/users",
            r#"{"username":"n@cnic.cn","nonsense":1}"#,
        )
        .await;
    problem(
        &a,
        StatusCode::UNPROCESSABLE_ENTITY,
        "nonsense",
        "known are: username, display_name",
    );
    // A body that is not an object at all.
    for (body, got) in [
        ("[]", "an array"),
        ("1", "a whole number"),
        ("null", "null"),
    ] {
        let a = raw.json("POST", "/api/v1/users", body).await;
        problem(
            &a,
            StatusCode::UNPROCESSABLE_ENTITY,
            "body",
            &format!("the body must be an object, not {got}"),
        );
    }
    let a = raw
        .json("POST", "/api/v1/users", r#"{"username":"n@cnic.cn"}"#)
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "control: {}", a.text);

    // An unknown value of an enumeration, and its control.
    let a = raw
        .json("POST", "/api/v1/keys/rotate", r#"{"alg":"HS256"}"#)
        .await;
    problem(
        &a,
        StatusCode::UNPROCESSABLE_ENTITY,
        "alg",
        "`alg` must be one of RS256, ES256, EdDSA",
    );
    let a = raw
        .json(
            "POST",
            "/api/v1/clients",
            r#"{"id":"e","name":"E","token_auth_method":"magic"}"#,
        )
        .await;
    problem(
        &a,
        StatusCode::UNPROCESSABLE_ENTITY,
        "token_auth_method",
        "client_secret_basic, client_secret_post, private_key_jwt, none",
    );
    let a = raw
        .json("POST", "/api/v1/keys/rotate", r#"{"alg":"ES256"}"#)
        .await;
    assert_eq!(a.status, StatusCode::OK, "control: {}", a.text);

    // A member inside an array.
    let a = raw
        .json(
            "POST",
            "/api/v1/clients",
            r#"{"id":"w","name":"W","redirect_uris":["https://w.example/cb",5]}"#,
        )
        .await;
    problem(
        &a,
        StatusCode::UNPROCESSABLE_ENTITY,
        "redirect_uris[1]",
        "must be a string, not a whole number",
    );

    // A JWK set of the wrong shape: named under `jwks`, no library type.
    let client = |jwks: Value| {
        json!({ "id": "jwt-app", "name": "JWT", "redirect_uris": ["https://j.example/cb"],
                "token_auth_method": "private_key_jwt", "jwks": jwks })
        .to_string()
    };
    for (jwks, detail) in [
        (
            json!({ "keys": "x" }),
            "is not a JWK set: `jwks.keys` must be an array, not a string",
        ),
        (json!({ "keys": [1] }), "is not a JWK set: `jwks.keys[0]`"),
        (
            json!({ "nokeys": 1 }),
            "is not a JWK set: `jwks.keys` is required",
        ),
        (json!([1]), "is not a JWK set: `jwks[0]`"),
    ] {
        let a = raw.json("POST", "/api/v1/clients", &client(jwks)).await;
        problem(&a, StatusCode::UNPROCESSABLE_ENTITY, "jwks", detail);
    }
    let good = json!({ "keys": [{ "kty": "EC", "crv": "P-256", "use": "sig", "kid": "k1",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" }] });
    let a = raw.json("POST", "/api/v1/clients", &client(good)).await;
    assert_eq!(a.status, StatusCode::CREATED, "control: {}", a.text);
}

#[tokio::test]
async fn bodies_that_are_not_json_are_bad_requests() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let raw = Raw {
        base: app.base.clone(),
        token,
    };
    let user = app.user("syntax@cnic.cn").await;
    let disable = format!("/api/v1/users/{}/disable", user.id);

    // Malformed JSON: 400, where it went wrong.
    let a = raw
        .json(
            "POST",
            "/api/v1/users",
            r#"{"username":"a@cnic.cn","admin":tru}"#,
        )
        .await;
    problem(
        &a,
        StatusCode::BAD_REQUEST,
        "admin",
        "the body is not valid JSON",
    );
    assert!(
        a.body["detail"]
            .as_str()
            .unwrap()
            .contains("line 1, column")
    );
    let a = raw.json("POST", "/api/v1/users", r#"{"username":"#).await;
    problem(
        &a,
        StatusCode::BAD_REQUEST,
        "username",
        "the body is not valid JSON",
    );
    let a = raw
        .json("POST", "/api/v1/users", r#"{"username":"a@cnic.cn"} {}"#)
        .await;
    problem(&a, StatusCode::BAD_REQUEST, "body", "trailing characters");

    // Wrong or missing content type: 415 naming the header, also where a
    // body is optional (it used to be ignored without a content type).
    let a = raw
        .send(
            "POST",
            "/api/v1/users",
            Some("text/plain"),
            r#"{"username":"a@cnic.cn"}"#,
        )
        .await;
    problem(
        &a,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Content-Type",
        "Content-Type: application/json",
    );
    let a = raw
        .send("POST", &disable, None, r#"{"reason":"left"}"#)
        .await;
    problem(
        &a,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Content-Type",
        "must be JSON",
    );
    assert_eq!(
        app.state
            .store
            .user_by_username("syntax@cnic.cn")
            .await
            .unwrap()
            .unwrap()
            .status
            .as_str(),
        "active",
        "nothing was done"
    );
    // Controls: no body at all, and the JSON body.
    let a = raw.send("POST", &disable, None, "").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = raw
        .send(
            "POST",
            &disable,
            Some("application/json; charset=utf-8"),
            r#"{"reason":"left"}"#,
        )
        .await;
    assert_eq!(
        (a.status, &a.body["status_reason"]),
        (StatusCode::OK, &json!("left")),
        "{}",
        a.text
    );

    // A body over the limit, whether its length is declared or not.
    let big = format!(r#"{{"username":"{}"}}"#, "a".repeat(300 * 1024));
    let a = raw.json("POST", "/api/v1/users", &big).await;
    problem(
        &a,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body",
        "larger than 256 KiB",
    );
    // Chunked, without a declared length (written by hand: the body is
    // refused while it is read).
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let host = app.base.trim_start_matches("http://");
        let mut tcp = tokio::net::TcpStream::connect(host).await.unwrap();
        let head = format!(
            "POST /api/v1/users HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            raw.token
        );
        tcp.write_all(head.as_bytes()).await.unwrap();
        let chunk = format!("{:x}\r\n{big}\r\n0\r\n\r\n", big.len());
        // The server may answer and close before taking the whole chunk.
        let _ = tcp.write_all(chunk.as_bytes()).await;
        let mut answer = Vec::new();
        let _ = tcp.read_to_end(&mut answer).await;
        let answer = String::from_utf8_lossy(&answer).to_lowercase();
        assert!(answer.starts_with("http/1.1 413"), "{answer}");
        assert!(
            answer.contains("content-type: application/problem+json"),
            "{answer}"
        );
    }

    // A method the path does not have: a problem document too.
    let a = raw.send("PUT", "/api/v1/users", None, "").await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(a.content_type, "application/problem+json", "{}", a.text);
}

#[tokio::test]
async fn query_and_path_parameters_name_the_parameter() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let raw = Raw {
        base: app.base.clone(),
        token,
    };
    let user = app.user("params@cnic.cn").await;

    let cases = [
        (
            "/api/v1/users?per_page=abc",
            "per_page",
            "`per_page` must be a whole number",
        ),
        (
            "/api/v1/users?page=99999999999999999999",
            "page",
            "`page` is out of range",
        ),
        (
            "/api/v1/users?perpage=5",
            "perpage",
            "`perpage` is not a known parameter; known are: q, page, per_page",
        ),
        (
            "/api/v1/users?page=1&page=2",
            "page",
            "`page` is given more than once",
        ),
        ("/api/v1/audit?since=yesterday", "since", "`since`"),
        (
            "/api/v1/audit?limit=1.5",
            "limit",
            "`limit` must be a whole number",
        ),
        (
            "/api/v1/audit?evnt=login.failure",
            "evnt",
            "known are: user, event",
        ),
        (
            "/api/v1/users/not-a-uuid",
            "id",
            "`id` must be an account id: a UUID",
        ),
        ("/api/v1/users/12345/disable", "id", "a UUID"),
    ];
    for (path, field, detail) in cases {
        let method = if path.ends_with("/disable") {
            "POST"
        } else {
            "GET"
        };
        let a = raw.send(method, path, None, "").await;
        problem(&a, StatusCode::BAD_REQUEST, field, detail);
    }
    // Values of the right form but out of the documented range: 422.
    let a = raw.send("GET", "/api/v1/users?per_page=0", None, "").await;
    problem(
        &a,
        StatusCode::UNPROCESSABLE_ENTITY,
        "per_page",
        "between 1 and 200",
    );
    let a = raw.send("GET", "/api/v1/audit?user=bob", None, "").await;
    problem(&a, StatusCode::UNPROCESSABLE_ENTITY, "user", "a UUID");

    // Controls: the same parameters, well formed.
    for path in [
        "/api/v1/users?per_page=5&page=1&q=params".to_string(),
        "/api/v1/audit?since=2000-01-01T00:00:00Z&limit=2&event=login.failure".to_string(),
        format!("/api/v1/audit?user={}", user.id),
        format!("/api/v1/users/{}", user.id),
    ] {
        let a = raw.send("GET", &path, None, "").await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text);
    }
}
