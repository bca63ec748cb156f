//! The OpenAPI document tells the truth about the management API: valid in
//! the ways a validator checks first (every response described, parameters
//! where they are sent), every operation's error answers listed as
//! `application/problem+json`, and the document and the router agree on
//! every path and method under /api/v1. (`.ci/run` also runs
//! openapi-spec-validator and schemathesis against a live server.)

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::admin_api::admin_token;
use crate::helpers::TestApp;

const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

async fn document(app: &TestApp) -> Value {
    reqwest::get(format!("{}/api/openapi.json", app.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(METHODS.contains(&method.as_str()), "{method} {path}");
            out.push((path.clone(), method.clone(), op.clone()));
        }
    }
    out
}

/// What is wrong with the document, one line per finding.
fn findings(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut ids = BTreeSet::new();
    for (path, method, op) in operations(doc) {
        let at = format!("{method} {path}");
        match op["operationId"].as_str() {
            Some(id) if ids.insert(id.to_string()) => {}
            other => out.push(format!("{at}: operationId {other:?} missing or not unique")),
        }
        // Parameters: `{x}` in the path is exactly the path parameters,
        // which are required; everything else is in the query.
        let in_template: BTreeSet<&str> = path
            .split('{')
            .skip(1)
            .filter_map(|s| s.split_once('}').map(|(n, _)| n))
            .collect();
        let mut declared = BTreeSet::new();
        for p in op["parameters"].as_array().into_iter().flatten() {
            let name = p["name"].as_str().unwrap_or_default();
            match p["in"].as_str() {
                Some("path") => {
                    declared.insert(name);
                    if !in_template.contains(name) {
                        out.push(format!(
                            "{at}: `{name}` is a path parameter but not in the path"
                        ));
                    }
                    if p["required"] != true {
                        out.push(format!("{at}: path parameter `{name}` is not required"));
                    }
                }
                Some("query") => {
                    if in_template.contains(name) {
                        out.push(format!(
                            "{at}: `{name}` is in the path but declared in the query"
                        ));
                    }
                }
                other => out.push(format!("{at}: `{name}` is in {other:?}")),
            }
        }
        for name in in_template.difference(&declared) {
            out.push(format!("{at}: path parameter `{name}` is not declared"));
        }
        // Responses: all described; errors as problem documents only.
        let responses = op["responses"].as_object().unwrap();
        for (status, r) in responses {
            if r["description"].as_str().is_none_or(str::is_empty) {
                out.push(format!("{at}: response {status} has no description"));
            }
            if status.starts_with(['4', '5']) {
                let types: Vec<&String> = r["content"]
                    .as_object()
                    .map(|c| c.keys().collect())
                    .unwrap_or_default();
                if types != ["application/problem+json"]
                    || r["content"]["application/problem+json"]["schema"]["$ref"]
                        != "#/components/schemas/Problem"
                {
                    out.push(format!("{at}: response {status} is not a Problem as application/problem+json ({types:?})"));
                }
            }
        }
        // The answers every operation can give, and those that follow
        // from what it takes.
        let has_body = op.get("requestBody").is_some();
        let has_params = op["parameters"].as_array().is_some_and(|p| !p.is_empty());
        let mut owed = vec!["401", "403", "422", "503"];
        if has_params || has_body {
            owed.push("400");
        }
        if path.contains("{id}") {
            owed.push("404");
        }
        if has_body {
            owed.extend(["413", "415"]);
        }
        for status in owed {
            if !responses.contains_key(status) {
                out.push(format!("{at}: answer {status} not listed"));
            }
        }
        if !responses.keys().any(|s| s.starts_with('2')) {
            out.push(format!("{at}: no success answer"));
        }
    }
    // Every $ref resolves.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(doc, &mut all);
    for r in all {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or(&r);
        if !doc["components"]["schemas"][name].is_object() {
            out.push(format!("unresolved {r}"));
        }
    }
    out
}

#[tokio::test]
async fn the_document_describes_every_answer_and_parameter() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let found = findings(&doc);
    assert!(found.is_empty(), "{}", found.join("\n"));

    // Field rules are there: lengths, ranges and enumerations.
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["CreateUser"]["properties"]["username"]["maxLength"],
        128
    );
    assert_eq!(
        schemas["CreateClient"]["properties"]["name"]["maxLength"],
        100
    );
    assert_eq!(
        schemas["StatusChange"]["properties"]["reason"]["maxLength"],
        500
    );
    assert_eq!(
        schemas["Alg"]["enum"],
        serde_json::json!(["RS256", "ES256", "EdDSA"])
    );
    assert_eq!(schemas["AuthMethod"]["enum"].as_array().unwrap().len(), 4);
    let users = &doc["paths"]["/api/v1/users"]["get"]["parameters"];
    let per_page = users
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "per_page")
        .unwrap();
    assert_eq!(
        (&per_page["in"], &per_page["schema"]["maximum"]),
        (&"query".into(), &200.into())
    );
    assert_eq!(per_page["required"], false);
    // Bodies that may be left out say so; the others are required.
    let disable = &doc["paths"]["/api/v1/users/{id}/disable"]["post"]["requestBody"];
    assert_eq!(disable["required"], false);
    assert_eq!(
        doc["paths"]["/api/v1/users"]["post"]["requestBody"]["required"],
        true
    );
}

#[test]
fn the_checks_find_what_the_document_used_to_get_wrong() {
    // Positive control for the checks above, on the shapes the document had:
    // no descriptions, query parameters declared in the path, errors as
    // application/json, error answers left out, duplicate operation ids.
    let old = serde_json::json!({
        "openapi": "3.1.0",
        "paths": {
            "/api/v1/users": { "get": { "operationId": "search",
                "parameters": [{ "name": "q", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": {
                    "200": { "content": { "application/json": { "schema": { "type": "object" } } } },
                    "401": { "description": "x", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Problem" } } } }
                } } },
            "/api/v1/users/{id}": { "get": { "operationId": "search",
                "responses": { "200": { "description": "ok" } } } }
        },
        "components": { "schemas": { "Problem": { "type": "object" } } }
    });
    let found = findings(&old).join("\n");
    for expected in [
        "get /api/v1/users: response 200 has no description",
        "get /api/v1/users: `q` is a path parameter but not in the path",
        "get /api/v1/users: response 401 is not a Problem as application/problem+json",
        "get /api/v1/users: answer 403 not listed",
        "get /api/v1/users: answer 503 not listed",
        "get /api/v1/users/{id}: path parameter `id` is not declared",
        "get /api/v1/users/{id}: answer 404 not listed",
        "get /api/v1/users/{id}: operationId Some(\"search\") missing or not unique",
    ] {
        assert!(
            found.contains(expected),
            "{expected} not found in:\n{found}"
        );
    }
}

/// Every `/api/v1` path of the URL table (`src/routes.rs`).
fn api_paths_in_the_url_table() -> BTreeSet<String> {
    let table =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/routes.rs")).unwrap();
    table
        .lines()
        .filter(|l| l.starts_with("pub const API_"))
        .filter_map(|l| l.split('"').nth(1))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn the_router_and_the_document_agree() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let token = admin_token(&app).await;
    let documented: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let table = api_paths_in_the_url_table();
    assert!(table.len() >= 13, "{table:?}");
    assert_eq!(
        documented, table,
        "the document and the URL table list the same paths"
    );
    // No /api/v1 path is spelt outside the URL table.
    let mut stack = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src"
    ))];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("routes.rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(
                    !text.contains("\"/api/v1"),
                    "{} spells an /api/v1 path",
                    path.display()
                );
            }
        }
    }
    // Each method of each path: routed exactly when documented.
    let client = reqwest::Client::new();
    let mut routed = 0;
    for path in &documented {
        let concrete = path
            .replace("{id}", "00000000-0000-0000-0000-000000000000")
            .replace("{year}", "2027")
            .replace("{password_id}", "00000000-0000-0000-0000-000000000000");
        for method in METHODS {
            let in_doc = doc["paths"][path][method].is_object();
            let r = client
                .request(
                    method.to_uppercase().parse().unwrap(),
                    format!("{}{concrete}", app.base),
                )
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = r.status();
            let text = r.text().await.unwrap();
            assert_eq!(
                status != StatusCode::METHOD_NOT_ALLOWED,
                in_doc,
                "{method} {path}: answered {status}, documented: {in_doc}"
            );
            assert!(
                !text.contains("no such API endpoint"),
                "{method} {path}: {text}"
            );
            routed += usize::from(in_doc);
        }
    }
    assert_eq!(routed, 42, "operations");
}
