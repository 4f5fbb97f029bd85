//! What may be shown of a Redis configuration: URLs with their password masked, and a reason
//! for a failure that says what to do, without repeating anything secret.

use std::fmt;

use redis::{ErrorKind, RedisError, ServerErrorKind};

/// `url` with its password, if any, replaced by `***`: what logs, errors, `Debug` and health
/// reports show. Several URLs separated by commas are masked one by one.
pub(crate) fn masked(url: &str) -> String {
    url.split(',').map(masked_one).collect::<Vec<_>>().join(",")
}

fn masked_one(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // the userinfo ends at the last `@` before the path: a password may contain `@` or `/`
    let authority_end = rest.rfind('@').map_or(0, |at| at + 1);
    let shown = match rest[..authority_end].strip_suffix('@') {
        Some(credentials) => {
            let host = &rest[authority_end..];
            match credentials.split_once(':') {
                Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
                None => format!("{scheme}://***@{host}"),
            }
        }
        None => url.to_owned(),
    };
    mask_query_password(&shown)
}

/// `?password=…` (a form some clients accept) masked too.
fn mask_query_password(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

/// A list of URLs for `Debug`, masked.
pub(crate) struct MaskedUrls<'a>(pub(crate) &'a [String]);

impl fmt::Debug for MaskedUrls<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|url| masked(url)))
            .finish()
    }
}

/// The error as logs and health reports show it. Redis (7.0) reports a command denied inside
/// a script only by the script's line (`on @user_script:11`): the command on that line of
/// kansoku's write script is named, so the message says which permission is missing.
pub(crate) fn described(error: &RedisError) -> String {
    let text = error.to_string();
    let denied = text
        .split_once("@user_script:")
        .and_then(|(_, rest)| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<usize>().ok()
        })
        .and_then(|line| super::batch::APPLY.lines().nth(line - 1))
        .and_then(|line| line.split_once("redis.call('"))
        .and_then(|(_, rest)| rest.split_once('\''))
        .map(|(command, _)| command.to_ascii_lowercase());
    match denied {
        Some(command) if text.contains("can't run this command") => format!(
            "{text} (the denied command is `{command}`, called by kansoku's write script: \
             the ACL needs `+{command}`)"
        ),
        _ => text,
    }
}

/// What kind of trouble a failed attempt is: an outage is logged once when it starts; a
/// change of kind (the network is back but the password is wrong) is logged again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trouble {
    Unreachable,
    Certificate,
    Credentials,
    Permission,
    Other,
}

impl Trouble {
    pub(crate) fn of(error: &RedisError) -> Trouble {
        let text = error.to_string();
        if matches!(error.kind(), ErrorKind::Server(ServerErrorKind::NoPerm))
            || text.contains("NOPERM")
        {
            Trouble::Permission
        } else if text.contains("WRONGPASS")
            || text.contains("NOAUTH")
            || matches!(error.kind(), ErrorKind::AuthenticationFailed)
        {
            Trouble::Credentials
        } else if text.contains("certificate") || text.contains("InvalidCertificate") {
            Trouble::Certificate
        } else if error.is_io_error() || error.is_timeout() || error.is_connection_dropped() {
            Trouble::Unreachable
        } else {
            Trouble::Other
        }
    }

    /// What to do about it, for the log line.
    pub(crate) fn advice(self) -> &'static str {
        match self {
            Trouble::Unreachable | Trouble::Other => "holding the counts until it is back",
            Trouble::Certificate => {
                "the server's TLS certificate does not verify: give its CA with `redis_tls_ca` \
                 (KANSOKU_REDIS_TLS_CA); holding the counts, nothing is sent unencrypted"
            }
            Trouble::Credentials => {
                "Redis refused the user or password in the URL; holding the counts"
            }
            Trouble::Permission => {
                "the Redis user lacks a command kansoku needs (the error names it; README \
                 \"Redis ACL\" has the rule); holding the counts until the ACL allows it"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::masked;

    #[test]
    fn urls_are_shown_without_their_password() {
        assert_eq!(
            masked("redis://user:s3cret@host:6379/0"),
            "redis://user:***@host:6379/0"
        );
        assert_eq!(masked("redis://:s3cret@host"), "redis://:***@host");
        assert_eq!(masked("redis://host:6379"), "redis://host:6379");
        assert_eq!(
            masked("rediss://u:p@ss/w@rd@host:1/2"),
            "rediss://u:***@host:1/2"
        );
        assert_eq!(
            masked("redis://a:x@h1:1,redis://b:y@h2:2"),
            "redis://a:***@h1:1,redis://b:***@h2:2"
        );
        assert_eq!(
            masked("redis://h:1/0?password=zz&protocol=resp3"),
            "redis://h:1/0?password=***&protocol=resp3"
        );
    }
}
