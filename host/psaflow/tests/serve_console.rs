//! The web console in a real browser: headless Chromium driven over WebDriver (chromedriver,
//! spoken to with plain HTTP) logs in with a token, starts a run that waits for approval,
//! approves it on the run page and sees it succeed. CI installs `chromium` and
//! `chromium-driver` (`.ci/run`) and sets PSAFLOW_REQUIRE_BROWSER=1, so there a missing
//! browser fails the test; elsewhere it is reported and skipped.
mod common;
mod serve_support;

use base64::Engine;
use serde_json::{Value, json};
use serve_support::*;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the page may take to show what the test waits for (a generous bound on a slow,
/// shared machine; the test does not measure speed).
const PATIENCE: Duration = Duration::from_secs(90);

fn on_path(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Driver {
    async fn start(chromedriver: &std::path::Path, browser: &std::path::Path) -> Driver {
        let port = free_port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let started = Instant::now();
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(started.elapsed() < PATIENCE, "chromedriver did not answer");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": browser,
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1100,900"]
            }
        }}});
        let r: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {r}"))
            .to_string();
        Driver {
            child,
            base,
            session,
            http,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.unwrap().json().await.unwrap()
    }

    async fn go(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn find(&self, css: &str) -> Option<String> {
        let r = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        r["value"][ELEMENT].as_str().map(str::to_string)
    }

    /// Waits until `css` is on the page (pages reload themselves from the event stream).
    async fn wait_for(&self, css: &str) -> String {
        let started = Instant::now();
        loop {
            if let Some(id) = self.find(css).await {
                return id;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{css} never appeared; page: {}",
                self.source().await
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn type_into(&self, element: &str, text: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/clear"),
            Some(json!({})),
        )
        .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    async fn click(&self, element: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn text(&self, element: &str) -> String {
        let r = self
            .call(
                reqwest::Method::GET,
                &format!("/element/{element}/text"),
                None,
            )
            .await;
        r["value"].as_str().unwrap_or_default().to_string()
    }

    async fn url(&self) -> String {
        let r = self.call(reqwest::Method::GET, "/url", None).await;
        r["value"].as_str().unwrap_or_default().to_string()
    }

    async fn source(&self) -> String {
        let r = self.call(reqwest::Method::GET, "/source", None).await;
        r["value"].as_str().unwrap_or_default().to_string()
    }

    async fn screenshot(&self) -> Vec<u8> {
        let r = self.call(reqwest::Method::GET, "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD
            .decode(r["value"].as_str().unwrap_or_default())
            .unwrap()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Ending the session makes chromedriver quit the browser: killing chromedriver alone
        // left Chromium running after the test (a failed one too, which is why it is here).
        let _ = end_session(&self.base, &self.session);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `DELETE /session/{session}` as one blocking request (`drop` cannot wait for a future);
/// chromedriver answers once the browser has quit.
fn end_session(base: &str, session: &str) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let address = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "DELETE /session/{session} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    // The answer's first bytes are enough (chromedriver may keep the connection open).
    stream.read(&mut [0; 1024]).map(drop)
}

#[tokio::test(flavor = "multi_thread")]
async fn console_logs_in_starts_a_run_and_approves_it_in_headless_chromium() {
    let browser = on_path("chromium").or_else(|| on_path("chromium-browser"));
    let (Some(chromedriver), Some(browser)) = (on_path("chromedriver"), browser) else {
        assert!(
            std::env::var_os("PSAFLOW_REQUIRE_BROWSER").is_none(),
            "PSAFLOW_REQUIRE_BROWSER is set but chromium or chromedriver is not on PATH"
        );
        eprintln!(
            "skipped: chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
        );
        return;
    };
    let server = Server::start(&[]);
    let token = create_token(&server.state, "grace", "run,read,approve");
    let driver = Driver::start(&chromedriver, &browser).await;

    // Without a session every console page leads to the login form.
    driver.go(&server.url("/")).await;
    let field = driver.wait_for("#token").await;
    driver.type_into(&field, "psf_wrong").await;
    let login = driver.wait_for("#login").await;
    driver.click(&login).await;
    let refused = driver.wait_for("#login-error").await;
    assert!(
        driver.text(&refused).await.contains("not valid"),
        "a wrong token is refused"
    );
    driver.go(&server.url("/login")).await;
    let field = driver.wait_for("#token").await;
    driver.type_into(&field, &token).await;
    let login = driver.wait_for("#login").await;
    driver.click(&login).await;
    driver.wait_for("select[name=status]").await;

    // Start the run from the workflows page.
    driver.go(&server.url("/workflows")).await;
    let inputs = driver
        .wait_for("textarea[data-workflow='approved-create']")
        .await;
    driver
        .type_into(&inputs, r#"{"name": "Browser Approved Ltd"}"#)
        .await;
    let start = driver
        .wait_for("button[data-start='approved-create']")
        .await;
    driver.click(&start).await;

    // The run page shows the approval once the run reaches it (live refresh), with buttons.
    let approve = driver.wait_for("#approve").await;
    let url = driver.url().await;
    let run_id = url.rsplit('/').next().unwrap().to_string();
    assert!(
        driver
            .source()
            .await
            .contains("Create client Browser Approved Ltd?")
    );
    driver.click(&approve).await;

    // It succeeds; the page updates itself to say so.
    let started = Instant::now();
    loop {
        let status = driver.wait_for("#run-status").await;
        if driver.text(&status).await.contains("succeeded") {
            break;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "the run page never showed success: {}",
            driver.source().await
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let page = driver.source().await;
    assert!(page.contains("approved by grace"), "{page}");
    let png = driver.screenshot().await;
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    let shot = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-run.png");
    std::fs::write(&shot, &png).unwrap();
    eprintln!("screenshot of the run page: {}", shot.display());

    // The API agrees: succeeded, approved by the token's name.
    let (_, report) = get(&server, &token, &format!("/v1/runs/{run_id}")).await;
    assert_eq!(report["status"], "succeeded", "{report}");
    assert_eq!(report["approvals"][0]["decided_by"], "grace");
    assert_eq!(report["started_by"], "grace");
}
