//! A real browser for the pages kansoku serves: Debian's headless Chromium driven through
//! `chromedriver` (the W3C `WebDriver` protocol, plain JSON over loopback HTTP), so a test can
//! keep one page open, watch it change, run a line of script in it and take a screenshot.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::required_tool;

/// A `chromedriver` and one headless Chromium session; both ended when dropped.
#[derive(Debug)]
pub struct Browser {
    driver: Child,
    base: String,
    http: ureq::Agent,
}

impl Browser {
    /// Starts `chromedriver` on a free loopback port and a headless Chromium of `width`×`height`.
    ///
    /// # Panics
    /// When `chromedriver` or `chromium` is missing or does not start.
    pub fn start(width: u32, height: u32) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(required_tool("chromedriver"))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let http: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_mins(1)))
            .build()
            .into();
        let mut browser = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            http,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while browser
            .http
            .get(format!("{}/status", browser.base))
            .call()
            .is_err()
        {
            assert!(Instant::now() < deadline, "chromedriver did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        let chromium = required_tool("chromium");
        let session = browser.post(
            "/session",
            &json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    // --no-sandbox: the tests may run as root
                    "args": ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                             format!("--window-size={width},{height}")],
                },
            }}}),
        );
        let id = session["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {session}"))
            .to_owned();
        browser.base = format!("{}/session/{id}", browser.base);
        browser
    }

    fn post(&self, path: &str, body: &Value) -> Value {
        let url = format!("{}{path}", self.base);
        let mut response = self
            .http
            .post(&url)
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        let text = response.body_mut().read_to_string().expect("an answer");
        let answer: Value = serde_json::from_str(&text).expect("JSON from chromedriver");
        assert!(
            response.status().is_success(),
            "POST {url}: {}",
            answer["value"]
        );
        answer["value"].clone()
    }

    fn get(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.base);
        let mut response = self.http.get(&url).call().expect("chromedriver answers");
        let text = response.body_mut().read_to_string().expect("an answer");
        let answer: Value = serde_json::from_str(&text).expect("JSON from chromedriver");
        answer["value"].clone()
    }

    /// Loads `url` and waits for it.
    pub fn open(&self, url: &str) {
        self.post("/url", &json!({ "url": url }));
    }

    /// The value of `return (script)` in the page.
    pub fn eval(&self, script: &str) -> Value {
        self.post(
            "/execute/sync",
            &json!({ "script": format!("return ({script});"), "args": [] }),
        )
    }

    /// Evaluates `script` every 100 ms until `done` accepts its value; that value.
    ///
    /// # Panics
    /// When `done` accepts none within `within`; the message has the last value.
    pub fn wait_for(&self, script: &str, within: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let value = self.eval(script);
            if done(&value) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "`{script}` never became what was awaited; last {value}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs a Chrome `DevTools` Protocol command (`Emulation.setEmulatedMedia`…) in the page.
    pub fn cdp(&self, command: &str, params: &Value) -> Value {
        self.post(
            "/goog/cdp/execute",
            &json!({ "cmd": command, "params": params }),
        )
    }

    /// A PNG of the window.
    pub fn screenshot(&self) -> Vec<u8> {
        let encoded = self.get("/screenshot");
        base64(encoded.as_str().expect("base64 text"))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.http.delete(&self.base).call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Standard base64 (what a `WebDriver` screenshot is), decoded.
fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .map(value)
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, d)| n | u32::from(*d) << (18 - 6 * i));
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_decodes() {
        assert_eq!(super::base64("aGVsbG8="), b"hello");
        assert_eq!(super::base64("aGk="), b"hi");
        assert_eq!(super::base64("YWJj"), b"abc");
    }
}
