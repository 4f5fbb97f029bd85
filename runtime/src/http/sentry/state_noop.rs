//! A request without the `sentry` feature: `state.rs`'s `RequestState`, holding and doing
//! nothing.

// Each item keeps the signature of its twin in `state.rs`.
#![allow(clippy::unused_self)]

use super::layer::Config;

#[derive(Debug)]
pub(crate) struct RequestState;

impl RequestState {
    pub(super) fn start(
        request: http::Request<axum::body::Body>,
        _config: &Config,
    ) -> (RequestState, http::Request<axum::body::Body>) {
        (RequestState, request)
    }

    pub(super) fn enter(&self) -> impl Sized {
        std::marker::PhantomData::<()>
    }

    pub(super) fn scoped<B>(
        &mut self,
        response: http::Response<B>,
    ) -> http::Response<axum::body::Body>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<axum::BoxError>,
    {
        response.map(axum::body::Body::new)
    }

    pub(super) fn end(&mut self, _code: Option<u16>) {}
}
