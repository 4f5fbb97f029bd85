//! What the Sentry layer removes from requests before anything leaves the process.

/// The value put in place of anything scrubbed.
pub(crate) const FILTERED: &str = "[Filtered]";

const DEFAULT_HEADERS: [&str; 5] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
];

const DEFAULT_FIELDS: [&str; 9] = [
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "cardnumber",
    "creditcard",
    "cvv",
    "authorization",
];

/// Decides which headers, query parameters and body fields the Sentry layer replaces with
/// `[Filtered]` before a transaction or an event leaves the process.
///
/// By default: the headers `Authorization`, `Proxy-Authorization`, `Cookie`, `Set-Cookie` and
/// `X-Api-Key`, and every header, query parameter, JSON field or form field whose name, in
/// lower case and without `_`, `-`, `.` or spaces, contains `password`, `passwd`, `secret`,
/// `token`, `apikey`, `cardnumber`, `creditcard`, `cvv` or `authorization` (so `api_key`,
/// `X-Auth-Token`, `card_number` and `newPassword` are all scrubbed).
///
/// ```
/// use kansoku::http::Scrubber;
///
/// let scrubber = Scrubber::new().header("x-session").field("iban");
/// assert!(scrubber.is_sensitive_header("X-Session"));
/// assert!(scrubber.is_sensitive_field("customer_IBAN"));
/// assert!(scrubber.is_sensitive_field("card_number"));
/// assert_eq!(
///     scrubber.scrub_json(r#"{"user":"kei","password":"hunter2"}"#),
///     r#"{"user":"kei","password":"[Filtered]"}"#
/// );
/// assert_eq!(scrubber.scrub_form("q=ramen&api_key=abc"), "q=ramen&api_key=[Filtered]");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scrubber {
    /// Lower-case header names scrubbed whatever the field patterns say.
    headers: Vec<String>,
    /// Normalised patterns (see [`normalise`]).
    fields: Vec<String>,
}

impl Default for Scrubber {
    fn default() -> Self {
        Scrubber::new()
    }
}

/// `X-Api_Key` → `xapikey`: lower case, letters and digits only.
fn normalise(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl Scrubber {
    /// The default rules (see the type's documentation).
    ///
    /// ```
    /// assert!(kansoku::http::Scrubber::new().is_sensitive_header("authorization"));
    /// ```
    pub fn new() -> Scrubber {
        Scrubber {
            headers: DEFAULT_HEADERS.iter().map(|h| (*h).to_owned()).collect(),
            fields: DEFAULT_FIELDS.iter().map(|f| (*f).to_owned()).collect(),
        }
    }

    /// No rules at all: nothing is scrubbed. Add your own with [`Scrubber::header`] and
    /// [`Scrubber::field`].
    ///
    /// ```
    /// let scrubber = kansoku::http::Scrubber::empty().field("pin");
    /// assert!(!scrubber.is_sensitive_field("password"));
    /// assert!(scrubber.is_sensitive_field("pin_code"));
    /// ```
    pub fn empty() -> Scrubber {
        Scrubber {
            headers: Vec::new(),
            fields: Vec::new(),
        }
    }

    /// Also scrubs the header `name` (any case).
    ///
    /// ```
    /// let scrubber = kansoku::http::Scrubber::new().header("X-Tenant-Secret-Id");
    /// assert!(scrubber.is_sensitive_header("x-tenant-secret-id"));
    /// ```
    #[must_use]
    pub fn header(mut self, name: &str) -> Scrubber {
        self.headers.push(name.to_ascii_lowercase());
        self
    }

    /// Also scrubs every header, query parameter and body field whose name contains `pattern`
    /// (compared in lower case, ignoring `_`, `-`, `.` and spaces).
    ///
    /// ```
    /// let scrubber = kansoku::http::Scrubber::new().field("phone_number");
    /// assert!(scrubber.is_sensitive_field("mobilePhoneNumber"));
    /// ```
    #[must_use]
    pub fn field(mut self, pattern: &str) -> Scrubber {
        let pattern = normalise(pattern);
        if !pattern.is_empty() {
            self.fields.push(pattern);
        }
        self
    }

    /// Whether a header of this name is scrubbed.
    ///
    /// ```
    /// let scrubber = kansoku::http::Scrubber::new();
    /// assert!(scrubber.is_sensitive_header("Cookie"));
    /// assert!(scrubber.is_sensitive_header("X-Auth-Token"));
    /// assert!(!scrubber.is_sensitive_header("User-Agent"));
    /// ```
    pub fn is_sensitive_header(&self, name: &str) -> bool {
        self.headers.iter().any(|h| h.eq_ignore_ascii_case(name)) || self.is_sensitive_field(name)
    }

    /// Whether a query parameter or body field of this name is scrubbed.
    ///
    /// ```
    /// let scrubber = kansoku::http::Scrubber::new();
    /// assert!(scrubber.is_sensitive_field("api_key"));
    /// assert!(!scrubber.is_sensitive_field("shop_id"));
    /// ```
    pub fn is_sensitive_field(&self, name: &str) -> bool {
        if self.fields.is_empty() {
            return false;
        }
        let name = normalise(name);
        self.fields.iter().any(|f| name.contains(f.as_str()))
    }

    /// A query string (`a=1&token=x`) or an `application/x-www-form-urlencoded` body with the
    /// values of sensitive parameters replaced. Names are compared percent-decoded.
    ///
    /// ```
    /// let scrubber = kansoku::http::Scrubber::new();
    /// assert_eq!(scrubber.scrub_form("page=2&access%5Ftoken=abc"), "page=2&access%5Ftoken=[Filtered]");
    /// ```
    pub fn scrub_form(&self, form: &str) -> String {
        let mut out = String::with_capacity(form.len());
        for (i, pair) in form.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            match pair.split_once('=') {
                Some((name, _)) if self.is_sensitive_field(&percent_decode(name)) => {
                    out.push_str(name);
                    out.push('=');
                    out.push_str(FILTERED);
                }
                _ => out.push_str(pair),
            }
        }
        out
    }

    /// A JSON text with the value of every sensitive field (at any depth) replaced by
    /// `"[Filtered]"`. Lenient: a text cut short (a truncated body) or not quite JSON is
    /// scrubbed as far as it goes, so a prefix of a body never shows a secret either.
    ///
    /// ```
    /// let scrubber = kansoku::http::Scrubber::new();
    /// let cut = r#"{"card": {"card_number": "4242 4242 4242 42"#;   // truncated mid-value
    /// assert_eq!(scrubber.scrub_json(cut), r#"{"card": {"card_number": "[Filtered]""#);
    /// ```
    pub fn scrub_json(&self, json: &str) -> String {
        let bytes = json.as_bytes();
        let mut out = String::with_capacity(json.len());
        let (mut copied, mut i) = (0, 0);
        while i < bytes.len() {
            if bytes[i] != b'"' {
                i += 1;
                continue;
            }
            let end = string_end(bytes, i);
            let mut colon = end;
            while colon < bytes.len() && bytes[colon].is_ascii_whitespace() {
                colon += 1;
            }
            let key = if end - i >= 2 && bytes[end - 1] == b'"' {
                &json[i + 1..end - 1]
            } else {
                &json[i + 1..end]
            };
            if colon < bytes.len() && bytes[colon] == b':' && self.is_sensitive_field(key) {
                let mut value = colon + 1;
                while value < bytes.len() && bytes[value].is_ascii_whitespace() {
                    value += 1;
                }
                out.push_str(&json[copied..value]);
                out.push('"');
                out.push_str(FILTERED);
                out.push('"');
                i = value_end(bytes, value);
                copied = i;
            } else {
                i = end;
            }
        }
        out.push_str(&json[copied..]);
        out
    }
}

/// The index just past the string starting at `start` (a `"`), or the end of the text.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The index just past the JSON value starting at `start`, or the end of the text.
fn value_end(bytes: &[u8], start: usize) -> usize {
    match bytes.get(start) {
        None => bytes.len(),
        Some(b'"') => string_end(bytes, start),
        Some(b'{' | b'[') => {
            let (mut depth, mut i) = (0_usize, start);
            while i < bytes.len() {
                match bytes[i] {
                    b'"' => {
                        i = string_end(bytes, i);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            bytes.len()
        }
        Some(_) => {
            let mut i = start;
            while i < bytes.len() && !matches!(bytes[i], b',' | b'}' | b']') {
                i += 1;
            }
            i
        }
    }
}

/// `%41+b` → `A b`; malformed escapes are kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, byte) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
