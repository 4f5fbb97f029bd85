//! Who may see the live page: the rule of `/metrics` (the bearer token, or loopback clients
//! when no token is set). A browser cannot put a header on a page load or an `EventSource`, so
//! the token may also come as the `kansoku_ops_token` cookie, which the page sets itself from
//! the URL's fragment (`/ops/live#token=…`: a fragment is never sent to the server, so the token
//! stays out of access logs).

use http::{header, Extensions, HeaderMap, HeaderValue, StatusCode};

use super::super::ops::Access;

/// The cookie the page keeps the token in.
pub(crate) const COOKIE: &str = "kansoku_ops_token";

/// `Ok` when the request may read the live numbers; else the status to answer with.
pub(crate) fn check(
    access: &Access,
    headers: &HeaderMap,
    extensions: &Extensions,
) -> Result<(), StatusCode> {
    if headers.contains_key(header::AUTHORIZATION) {
        return access.check(headers, extensions);
    }
    match cookie(headers).and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok()) {
        Some(bearer) => {
            let mut with_bearer = HeaderMap::new();
            with_bearer.insert(header::AUTHORIZATION, bearer);
            access.check(&with_bearer, extensions)
        }
        None => access.check(headers, extensions),
    }
}

/// The token cookie's value, if the request carries it.
fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

/// What a refused page load gets: a page that takes the token from the URL's fragment into
/// the cookie and loads again, or says how to give one.
pub(crate) const LOGIN_PAGE: &str = r#"<!doctype html><meta charset="utf-8"><title>kansoku live: token needed</title>
<p id="m">This page needs the ops token: open <code>/ops/live#token=YOUR_TOKEN</code> (from a loopback address no token is needed when none is configured).</p>
<script>
var m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
if (m && !sessionStorage.getItem("kansoku_tried")) {
  sessionStorage.setItem("kansoku_tried", "1");
  document.cookie = "kansoku_ops_token=" + m[1] + "; path=/ops/live; SameSite=Strict" + (location.protocol === "https:" ? "; Secure" : "");
  history.replaceState(null, "", location.pathname + location.search);
  location.reload();
} else if (m) { sessionStorage.removeItem("kansoku_tried"); document.getElementById("m").textContent = "That token was refused."; }
</script>"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_carries_the_token_and_a_wrong_one_is_refused() {
        let access = Access::Token(b"t0ken".to_vec());
        let with_cookie = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::COOKIE, value.parse().unwrap());
            check(&access, &headers, &Extensions::new())
        };
        assert_eq!(with_cookie("a=b; kansoku_ops_token=t0ken"), Ok(()));
        assert_eq!(
            with_cookie("kansoku_ops_token=nope"),
            Err(StatusCode::UNAUTHORIZED)
        );
        assert_eq!(with_cookie("other=t0ken"), Err(StatusCode::UNAUTHORIZED));
    }
}
