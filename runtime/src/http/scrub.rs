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

const DEFAULT_FIELDS: [&str; 12] = [
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "cardnumber",
    "creditcard",
    "cvv",
    "authorization",
    "privatekey",
    "credentials",
    "sessionid",
];

/// Names scrubbed when they are the whole name (normalised): the rest of sentry-python's
/// `DEFAULT_DENYLIST` and `DEFAULT_PII_DENYLIST`, and the client-address headers Sentry's SDKs
/// drop unless `send_default_pii`. Whole names only: `auth` or `session` as a part would scrub
/// `author` and `session_count`.
const DEFAULT_NAMES: [&str; 26] = [
    "auth",
    "mysqlpwd",
    "session",
    "csrf",
    "csrftoken",
    "xcsrftoken",
    "xsrf",
    "xsrftoken",
    "connectsid",
    "phpsessid",
    "usersession",
    "aiohttpsession",
    "symfony",
    "cookie",
    "setcookie",
    "xforwardedfor",
    "xrealip",
    "ipaddress",
    "remoteaddr",
    "forwarded",
    "trueclientip",
    "cfconnectingip",
    "xclientip",
    "clientip",
    "xapikey",
    "xauthtoken",
];

/// Decides which headers, query parameters and body fields the Sentry layer replaces with
/// `[Filtered]` before a transaction or an event leaves the process.
///
/// By default, at least what Sentry's own SDKs scrub: the headers `Authorization`,
/// `Proxy-Authorization`, `Cookie`, `Set-Cookie` and `X-Api-Key`; every header, query parameter,
/// JSON field or form field whose name, in lower case and without `_`, `-`, `.` or spaces,
/// contains `password`, `passwd`, `secret`, `token`, `apikey`, `cardnumber`, `creditcard`, `cvv`,
/// `authorization`, `privatekey`, `credentials` or `sessionid` (so `api_key`, `X-Auth-Token`,
/// `card_number` and `newPassword` are all scrubbed); and every one named, as a whole, as the
/// rest of sentry-python's `DEFAULT_DENYLIST` and `DEFAULT_PII_DENYLIST` name them (`auth`,
/// `session`, `csrf`, `_xsrf`, `connect.sid`, `PHPSESSID`, `symfony`, `mysql_pwd`,
/// `ip_address`, `remote_addr`…), with the client-address headers (`X-Forwarded-For`,
/// `X-Real-IP`, `Forwarded`, `True-Client-IP`, `CF-Connecting-IP`, `X-Client-IP`). JSON keys are
/// compared unescaped (`"pass\u0077ord"` is `password`).
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
    /// Normalised whole names.
    names: Vec<String>,
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

/// Whether `needle` occurs in `haystack` (both short).
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    haystack.len() >= needle.len()
        && haystack[..=haystack.len() - needle.len()]
            .iter()
            .enumerate()
            .any(|(i, &byte)| byte == first && haystack[i + 1..].starts_with(rest))
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
            names: DEFAULT_NAMES.iter().map(|n| (*n).to_owned()).collect(),
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
            names: Vec::new(),
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
        if self.fields.is_empty() && self.names.is_empty() {
            return false;
        }
        // most names are short: normalised on the stack, searched without a searcher's set-up
        let mut buffer = [0u8; 64];
        let mut len = 0;
        for byte in name.bytes().filter(u8::is_ascii_alphanumeric) {
            if len == buffer.len() {
                let name = normalise(name);
                return self.fields.iter().any(|f| name.contains(f.as_str()))
                    || self.names.contains(&name);
            }
            buffer[len] = byte.to_ascii_lowercase();
            len += 1;
        }
        let name = &buffer[..len];
        self.fields.iter().any(|f| contains(name, f.as_bytes()))
            || self.names.iter().any(|n| n.as_bytes() == name)
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
            if colon < bytes.len()
                && bytes[colon] == b':'
                && self.is_sensitive_field(&json_unescape(key))
            {
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

/// A JSON string's content with its escapes resolved (`\u0077` → `w`); a malformed escape is
/// kept as written.
fn json_unescape(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('\\') {
        return text.into();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(decoded)
                        if hex.len() == 4 && hex.bytes().all(|b| b.is_ascii_hexdigit()) =>
                    {
                        out.push(decoded);
                    }
                    _ => {
                        out.push_str("\\u");
                        out.push_str(&hex);
                    }
                }
            }
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out.into()
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

#[cfg(test)]
mod tests {
    use super::Scrubber;

    #[test]
    fn names_of_any_length_are_matched_as_the_rules_say() {
        let scrubber = Scrubber::new();
        let long = format!("{}_password", "x".repeat(80));
        assert!(scrubber.is_sensitive_field(&long));
        assert!(!scrubber.is_sensitive_field(&"x".repeat(80)));
        assert!(scrubber.is_sensitive_field("pass-word"));
        assert!(scrubber.is_sensitive_field("Token"));
        assert!(scrubber.is_sensitive_field("tok.en"));
        assert!(!scrubber.is_sensitive_field("toke"));
        assert!(!scrubber.is_sensitive_field(""));
        assert!(scrubber.is_sensitive_field("SESSION"));
        assert!(!scrubber.is_sensitive_field("session_count"));
        assert!(super::contains(b"abc", b""));
        assert!(super::contains(b"cvv", b"cvv"));
        assert!(!super::contains(b"cv", b"cvv"));
    }

    #[test]
    fn what_sentrys_sdks_scrub_is_scrubbed() {
        let scrubber = Scrubber::new();
        for name in [
            "auth",
            "credentials",
            "mysql_pwd",
            "privatekey",
            "private_key",
            "session",
            "sessionid",
            "csrf",
            "_csrf",
            "_xsrf",
            "XSRF-TOKEN",
            "connect.sid",
            "PHPSESSID",
            "_session",
            "user_session",
            "aiohttp_session",
            "symfony",
            "cookie",
            "set_cookie",
            "x_forwarded_for",
            "x_real_ip",
            "ip_address",
            "remote_addr",
        ] {
            assert!(scrubber.is_sensitive_field(name), "{name}");
            assert_eq!(
                scrubber.scrub_form(&format!("q=1&{name}=s3cret")),
                format!("q=1&{name}=[Filtered]")
            );
        }
        for header in [
            "X-Forwarded-For",
            "X-Real-IP",
            "Forwarded",
            "True-Client-IP",
            "CF-Connecting-IP",
            "X-Client-IP",
        ] {
            assert!(scrubber.is_sensitive_header(header), "{header}");
        }
        // whole names only for the short ones
        for kept in [
            "author",
            "session_count",
            "csrf_enabled_for_shop",
            "cookies_accepted",
        ] {
            assert!(!scrubber.is_sensitive_field(kept), "{kept}");
        }
    }

    #[test]
    fn an_escaped_json_key_is_compared_unescaped() {
        let scrubber = Scrubber::new();
        assert_eq!(
            scrubber.scrub_json(r#"{"pass\u0077ord":"hunter2","n\u0061me":"kei"}"#),
            r#"{"pass\u0077ord":"[Filtered]","n\u0061me":"kei"}"#
        );
        assert_eq!(
            scrubber.scrub_json(r#"{"bad\u00zz":"x"}"#),
            r#"{"bad\u00zz":"x"}"#
        );
    }
}
