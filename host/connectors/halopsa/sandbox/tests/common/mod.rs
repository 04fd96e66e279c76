//! Talks to a running sandbox over real HTTP, as a HaloPSA client would.
#![allow(dead_code)]

use psaflow_halopsa_sandbox::{Sandbox, SandboxOptions};
use reqwest::Method;
use serde_json::Value;

pub struct Api {
    pub sandbox: Sandbox,
    pub http: reqwest::Client,
    pub token: String,
}

/// A status, the raw body text, and the body parsed as JSON when it is JSON (else Null).
pub struct Reply {
    pub status: u16,
    pub text: String,
    pub json: Value,
    pub headers: reqwest::header::HeaderMap,
}

pub async fn start(opts: SandboxOptions) -> Api {
    let sandbox = Sandbox::start(opts).await.expect("sandbox starts");
    let http = reqwest::Client::new();
    let token = fetch_token(&http, &sandbox).await;
    Api {
        sandbox,
        http,
        token,
    }
}

pub async fn start_seeded() -> Api {
    start(SandboxOptions::default()).await
}

pub async fn start_empty() -> Api {
    start(SandboxOptions {
        seed: false,
        ..SandboxOptions::default()
    })
    .await
}

pub async fn fetch_token(http: &reqwest::Client, sandbox: &Sandbox) -> String {
    let reply = http
        .post(format!("{}/token", sandbox.auth_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", sandbox.client_id()),
            ("client_secret", sandbox.client_secret()),
            ("scope", "all"),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(reply.status().as_u16(), 200);
    let body: Value = reply.json().await.unwrap();
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

pub async fn into_reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        text,
        json,
        headers,
    }
}

impl Api {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.sandbox.api_url(), path)
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut request = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        into_reply(request.send().await.expect("request reaches the sandbox")).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }

    pub async fn list_ids(&self, path: &str, key: &str) -> Vec<i64> {
        let reply = self.get(path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        reply.json[key]
            .as_array()
            .unwrap_or_else(|| panic!("{path}: no {key} in {}", reply.text))
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect()
    }
}
