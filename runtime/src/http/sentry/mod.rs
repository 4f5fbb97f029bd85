//! The Sentry layer: a transaction and a kansoku call scope per request.

mod body;
mod describe;
mod future;
mod layer;
mod service;
// The request's Sentry side, or its twin that does nothing: the only place the layer's future
// names the feature.
#[cfg_attr(feature = "sentry", path = "state.rs")]
#[cfg_attr(not(feature = "sentry"), path = "state_noop.rs")]
mod state;

pub use body::CapturedBody;
pub use future::SentryFuture;
pub use layer::SentryLayer;
pub use service::SentryService;
