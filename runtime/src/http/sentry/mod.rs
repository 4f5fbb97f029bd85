//! The Sentry layer: a transaction and a kansoku call scope per request.

mod body;
mod describe;
mod future;
mod layer;
mod service;

pub use body::CapturedBody;
pub use future::SentryFuture;
pub use layer::SentryLayer;
pub use service::SentryService;
