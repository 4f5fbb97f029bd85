//! The lowest layer: what an annotated function is (its call site, a `static` the expansion
//! declares) and how a call of it ended. Nothing here knows a backend; everything above reads
//! it (tracing-core's `callsite` is the model).

#[cfg(store)]
pub(crate) mod bounds;
#[cfg(store)]
pub(crate) mod counters;
mod outcome;
mod status;
#[cfg(store)]
mod stripes;

#[cfg(any_backend)]
pub(crate) use outcome::short_type_name;
pub(crate) use outcome::Ending;
pub use outcome::{
    classify, classify_type, ClassifyError, ClassifyOther, ClassifyOtherType, ClassifyResult,
    ClassifyResultType, ErrorRef, Outcome, Wrap,
};
#[cfg(any(store, feature = "axum"))]
pub(crate) use status::Incomplete;
pub use status::Status;

/// The annotated function, as the macro saw it.
#[derive(Debug, Clone, Copy)]
pub struct FnInfo {
    /// The function's identifier.
    pub function: &'static str,
    /// `module_path!()` at the function.
    pub module_path: &'static str,
    /// `file!()` at the function.
    pub file: &'static str,
    /// `line!()` at the function.
    pub line: u32,
    /// It has a `self` receiver, so its default name is `Type::function`.
    pub is_method: bool,
}

/// Which attribute made the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteKind {
    /// `#[track_api_request]`
    TrackApiRequest,
    /// `#[track_database_query]`
    TrackDatabaseQuery,
    /// `#[monitor_api_endpoint]`
    MonitorApiEndpoint,
}

/// Which attribute made a site, with its arguments.
#[derive(Debug, Clone, Copy)]
// Each backend reads the arguments it uses (`op` only Sentry); with fewer on, some are unread.
#[cfg_attr(not(all(feature = "prometheus", feature = "sentry")), allow(dead_code))]
pub(crate) enum Attribute {
    /// `#[track_api_request(method = …, endpoint = …)]`
    TrackApiRequest {
        endpoint: Option<&'static str>,
        method: &'static str,
    },
    /// `#[track_database_query(operation, table)]`
    TrackDatabaseQuery {
        operation: &'static str,
        table: &'static str,
    },
    /// `#[monitor_api_endpoint(name = …, op = …)]`
    MonitorApiEndpoint {
        name: Option<&'static str>,
        op: Option<&'static str>,
    },
}

/// One annotated function: its description and, with a metrics backend on, its counters.
#[derive(Debug)]
pub struct Site {
    pub(crate) info: FnInfo,
    pub(crate) attribute: Attribute,
    /// The `endpoint` label / transaction name, resolved on the first call.
    #[cfg(any_backend)]
    name: std::sync::OnceLock<&'static str>,
    /// A query's span description (`SELECT shops`), made on its first sampled call.
    #[cfg(feature = "sentry")]
    description: std::sync::OnceLock<&'static str>,
    #[cfg(store)]
    pub(crate) counters: counters::SiteCounters,
}

impl Site {
    const fn new(info: FnInfo, attribute: Attribute) -> Site {
        Site {
            info,
            attribute,
            #[cfg(any_backend)]
            name: std::sync::OnceLock::new(),
            #[cfg(feature = "sentry")]
            description: std::sync::OnceLock::new(),
            #[cfg(store)]
            counters: counters::SiteCounters::new(),
        }
    }

    /// `#[track_api_request(method = …, endpoint = …)]`
    pub const fn track_api_request(
        info: FnInfo,
        endpoint: Option<&'static str>,
        method: &'static str,
    ) -> Site {
        Site::new(info, Attribute::TrackApiRequest { endpoint, method })
    }

    /// `#[track_database_query(operation, table)]`
    pub const fn track_database_query(
        info: FnInfo,
        operation: &'static str,
        table: &'static str,
    ) -> Site {
        Site::new(info, Attribute::TrackDatabaseQuery { operation, table })
    }

    /// `#[monitor_api_endpoint(name = …, op = …)]`
    pub const fn monitor_api_endpoint(
        info: FnInfo,
        name: Option<&'static str>,
        op: Option<&'static str>,
    ) -> Site {
        Site::new(info, Attribute::MonitorApiEndpoint { name, op })
    }

    /// The attribute that made this site.
    #[inline(always)]
    pub const fn kind(&self) -> SiteKind {
        match self.attribute {
            Attribute::TrackApiRequest { .. } => SiteKind::TrackApiRequest,
            Attribute::TrackDatabaseQuery { .. } => SiteKind::TrackDatabaseQuery,
            Attribute::MonitorApiEndpoint { .. } => SiteKind::MonitorApiEndpoint,
        }
    }

    /// The attribute names no endpoint (`#[track_api_request]` without `endpoint`,
    /// `#[monitor_api_endpoint]` without `name`): inside a request served by the HTTP layers
    /// it takes that request's route template (and, for a method of `ANY`, its method).
    #[cfg(any_backend)]
    #[inline(always)]
    pub(crate) const fn takes_request_labels(&self) -> bool {
        matches!(
            self.attribute,
            Attribute::TrackApiRequest { endpoint: None, .. }
                | Attribute::MonitorApiEndpoint { name: None, .. }
        )
    }

    /// The function as the macro saw it.
    pub fn info(&self) -> &FnInfo {
        &self.info
    }

    /// The `endpoint` label and transaction name: the given name, else `function` or
    /// `Type::function`. Fixed by the site's first call.
    #[cfg(any_backend)]
    #[inline]
    pub(crate) fn resolved_name(&self, type_name: Option<fn() -> &'static str>) -> &'static str {
        self.name.get_or_init(|| {
            let given = match self.attribute {
                Attribute::TrackApiRequest { endpoint, .. } => endpoint,
                Attribute::MonitorApiEndpoint { name, .. } => name,
                Attribute::TrackDatabaseQuery { .. } => None,
            };
            if let Some(given) = given {
                return given;
            }
            match type_name {
                Some(type_name) if self.info.is_method => {
                    let ty = short_type_name(type_name());
                    Box::leak(format!("{ty}::{}", self.info.function).into_boxed_str())
                }
                _ => self.info.function,
            }
        })
    }

    /// The name once resolved (the function's name before the first call).
    #[cfg(any_backend)]
    pub(crate) fn name(&self) -> &'static str {
        self.name.get().copied().unwrap_or(self.info.function)
    }

    /// `make()` on this site's first call, kept for the process's life (one per site: sites are
    /// statics, so this is bounded by the program's text).
    #[cfg(feature = "sentry")]
    pub(crate) fn description(&self, make: impl FnOnce() -> String) -> &'static str {
        self.description
            .get_or_init(|| Box::leak(make().into_boxed_str()))
    }
}
