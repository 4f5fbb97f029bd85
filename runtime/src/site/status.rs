use std::fmt;

/// How a call ended: the `status` label of the request and query counters.
///
/// Non-exhaustive: a later version may tell more endings apart (a timeout, say); match with a
/// `_` arm, and iterate [`Status::ALL`] rather than assume four.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Status {
    /// It returned, and not an `Err`.
    Ok,
    /// It returned an `Err`.
    Error,
    /// It panicked (the panic was recorded and then continued).
    Panic,
    /// Its future was dropped before it finished.
    Cancelled,
}

impl Status {
    /// Every status, in label order.
    pub const ALL: [Status; Status::COUNT] =
        [Status::Ok, Status::Error, Status::Panic, Status::Cancelled];

    /// How many statuses there are: the rows a counter keeps.
    pub(crate) const COUNT: usize = 4;

    /// The label value: `ok`, `error`, `panic` or `cancelled`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Error => "error",
            Status::Panic => "panic",
            Status::Cancelled => "cancelled",
        }
    }

    #[cfg_attr(not(store), allow(dead_code))]
    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a response's body ended before its end: the `reason` of
/// `ns_http_responses_incomplete_total`.
#[cfg(any(store, feature = "axum"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Incomplete {
    /// The client went away while the body was being sent.
    ClientGone,
    /// The body failed while it was being produced.
    BodyError,
}
