//! Who may read `/metrics`: the bearer token, compared in constant time, or, with no token
//! configured, loopback clients only.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use http::{header::AUTHORIZATION, Extensions, HeaderMap, StatusCode};

/// The longest `Authorization` value looked at; a longer one is refused unread (its length is
/// the caller's own, so refusing it early tells nothing about the token).
const MAX_AUTHORIZATION_LEN: usize = 4096;

/// The rule `/metrics` applies.
#[derive(Clone)]
pub(crate) enum Access {
    /// `Authorization: Bearer <token>` with this token.
    Token(Vec<u8>),
    /// No token configured: only a client whose peer address is loopback.
    LoopbackOnly,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // the token itself never goes into logs or debug output
        match self {
            Access::Token(_) => f.write_str("Token(<redacted>)"),
            Access::LoopbackOnly => f.write_str("LoopbackOnly"),
        }
    }
}

impl Access {
    /// `Ok` when the request may read; else the status to answer with.
    pub(crate) fn check(
        &self,
        headers: &HeaderMap,
        extensions: &Extensions,
    ) -> Result<(), StatusCode> {
        match self {
            Access::Token(expected) => {
                let given = headers
                    .get(AUTHORIZATION)
                    .map(http::HeaderValue::as_bytes)
                    .filter(|value| value.len() <= MAX_AUTHORIZATION_LEN)
                    .and_then(bearer);
                match given {
                    Some(given) if tokens_match(expected, given) => Ok(()),
                    _ => Err(StatusCode::UNAUTHORIZED),
                }
            }
            Access::LoopbackOnly => {
                // Without the peer address (the app was not served with
                // `into_make_service_with_connect_info`) nobody can be shown to be local.
                match extensions.get::<ConnectInfo<SocketAddr>>() {
                    Some(ConnectInfo(peer)) if peer.ip().is_loopback() => Ok(()),
                    Some(_) => Err(StatusCode::FORBIDDEN),
                    None => {
                        static SAID: std::sync::Once = std::sync::Once::new();
                        SAID.call_once(|| {
                            tracing::warn!(
                                "kansoku ops: /metrics refused: the peer address is unknown; serve the app with `into_make_service_with_connect_info::<SocketAddr>()`, or set a token"
                            );
                        });
                        Err(StatusCode::FORBIDDEN)
                    }
                }
            }
        }
    }
}

/// The credentials of `Bearer <credentials>` (the scheme is case-insensitive, RFC 9110).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(7)?;
    if scheme.eq_ignore_ascii_case(b"bearer ") {
        Some(rest.trim_ascii())
    } else {
        None
    }
}

/// Whether `given` equals `expected`, in a time that depends only on their lengths: every byte
/// of `expected` is compared, whatever the first difference, and the differences are folded
/// into one value that is read once at the end. An attacker learns from the timing at most the
/// length of what they sent.
pub(crate) fn tokens_match(expected: &[u8], given: &[u8]) -> bool {
    // a length difference is one more difference, folded in like the others
    let mut difference = u8::from(expected.len() != given.len());
    for (i, &byte) in expected.iter().enumerate() {
        // beyond the end of `given`, compare with a byte that differs from `byte`, so a prefix
        // never matches and the loop does the same work either way
        let other = given.get(i).copied().unwrap_or(!byte);
        difference |= std::hint::black_box(byte ^ other);
    }
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_comparator_accepts_exactly_the_token() {
        let token = b"s3cret-token";
        assert!(tokens_match(token, b"s3cret-token"));
        assert!(!tokens_match(token, b""));
        assert!(!tokens_match(token, b"s3cret-toke"), "a prefix");
        assert!(!tokens_match(token, b"s3cret-token!"), "a longer token");
        assert!(!tokens_match(token, b"X3cret-token"), "first byte differs");
        assert!(!tokens_match(token, b"s3cret-tokeX"), "last byte differs");
        assert!(!tokens_match(token, &[0; 4096]), "overlong");
        // a prefix padded with the bytes the loop substitutes must not match either
        let mut padded = b"s3cret-toke".to_vec();
        padded.push(!b'n');
        assert!(!tokens_match(token, &padded));
    }

    #[test]
    fn the_scheme_is_case_insensitive_and_the_credentials_trimmed() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer  abc "), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"Bear"), None);
    }

    fn request(authorization: Option<&str>, peer: Option<&str>) -> (HeaderMap, Extensions) {
        let mut headers = HeaderMap::new();
        if let Some(value) = authorization {
            headers.insert(AUTHORIZATION, value.parse().unwrap());
        }
        let mut extensions = Extensions::new();
        if let Some(peer) = peer {
            extensions.insert(ConnectInfo::<SocketAddr>(peer.parse().unwrap()));
        }
        (headers, extensions)
    }

    #[test]
    fn a_token_is_required_when_configured_even_from_loopback() {
        let access = Access::Token(b"t0ken".to_vec());
        let ok = |auth, peer| {
            let (h, e) = request(auth, peer);
            access.check(&h, &e)
        };
        assert_eq!(ok(Some("Bearer t0ken"), Some("10.0.0.1:1")), Ok(()));
        assert_eq!(ok(None, Some("127.0.0.1:1")), Err(StatusCode::UNAUTHORIZED));
        assert_eq!(ok(Some("Bearer "), None), Err(StatusCode::UNAUTHORIZED));
        assert_eq!(ok(Some("Bearer t0ke"), None), Err(StatusCode::UNAUTHORIZED));
        let overlong = format!("Bearer {}", "t".repeat(MAX_AUTHORIZATION_LEN));
        assert_eq!(ok(Some(&overlong), None), Err(StatusCode::UNAUTHORIZED));
        assert!(!format!("{access:?}").contains("t0ken"));
    }

    #[test]
    fn without_a_token_only_a_known_loopback_peer_reads() {
        let access = Access::LoopbackOnly;
        let ok = |peer| {
            let (h, e) = request(None, peer);
            access.check(&h, &e)
        };
        assert_eq!(ok(Some("127.0.0.1:5000")), Ok(()));
        assert_eq!(ok(Some("[::1]:5000")), Ok(()));
        assert_eq!(ok(Some("192.168.1.2:5000")), Err(StatusCode::FORBIDDEN));
        assert_eq!(ok(None), Err(StatusCode::FORBIDDEN), "unknown peer");
    }
}
