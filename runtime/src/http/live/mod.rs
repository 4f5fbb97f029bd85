//! The live operations page: `GET /ops/live` (the page), `GET /ops/live/data` (its JSON, see
//! `docs/live-data.md`) and `GET /ops/live/events` (the same JSON once a second, as
//! Server-Sent Events), merged into the ops router under the rule of `/metrics`.
//!
//! One file per concern: the JSON (`model`), the once-a-second shared snapshot (`source`), the
//! event stream (`events`), who may look (`access`), the page itself (`page.html`).

mod access;
mod events;
mod model;
mod source;

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::{header, HeaderValue, Request, StatusCode};
use serde_json::Value;

use super::ops::Access;
use crate::Telemetry;
use model::Window;
use source::Source;

/// The page: one file, its style and script inline, nothing fetched from elsewhere.
const PAGE: &str = include_str!("page.html");

/// What the handlers share.
pub(crate) struct Live {
    source: Source,
    access: Access,
    /// How this process is named when the numbers are its own.
    this_instance: String,
}

impl Live {
    /// The JSON of `window`, no older than a second.
    async fn data(&self, window: Window) -> Value {
        let view = self.source.view(window).await;
        view.to_json(&model::alerts(self.source.telemetry()), &self.this_instance)
    }
}

/// The live routes, with the access rule of `/metrics`.
pub(crate) fn routes<S>(telemetry: &Telemetry, access: Access) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let this_instance = format!(
        "{} (this instance, pid {})",
        telemetry.service_name().unwrap_or(telemetry.namespace()),
        std::process::id()
    );
    let live = Live {
        source: Source::new(telemetry.clone()),
        access,
        this_instance,
    };
    Router::new()
        .route("/ops/live", get(page))
        .route("/ops/live/data", get(data))
        .route("/ops/live/events", get(events))
        .with_state(Arc::new(live))
}

/// The `window` query parameter (default `1m`), or a 400 that lists the choices.
fn window_of<B>(request: &Request<B>) -> Result<Window, String> {
    let asked = request
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| *name == "window")
        .map(|(_, value)| value);
    match asked {
        None | Some("") => Ok(Window::OneMinute),
        Some(text) => Window::parse(text),
    }
}

/// `Err` with the refusal when the request may not look.
fn refused<B>(live: &Live, request: &Request<B>, html: bool) -> Option<Response> {
    let status = access::check(&live.access, request.headers(), request.extensions()).err()?;
    let mut response = if html && status == StatusCode::UNAUTHORIZED {
        (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
                // its one inline script, nothing loaded
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; script-src 'unsafe-inline'; frame-ancestors 'none'",
                ),
            ],
            access::LOGIN_PAGE,
        )
            .into_response()
    } else {
        (status, "not allowed to read the live numbers\n").into_response()
    };
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    Some(response)
}

async fn page(State(live): State<Arc<Live>>, request: Request<axum::body::Body>) -> Response {
    if let Some(refusal) = refused(&live, &request, true) {
        return refusal;
    }
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            // the page loads nothing from anywhere: no CDN, no font, no image but its own
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; frame-ancestors 'none'",
            ),
        ],
        PAGE,
    )
        .into_response()
}

async fn data(State(live): State<Arc<Live>>, request: Request<axum::body::Body>) -> Response {
    if let Some(refusal) = refused(&live, &request, false) {
        return refusal;
    }
    let window = match window_of(&request) {
        Ok(window) => window,
        Err(why) => return (StatusCode::BAD_REQUEST, why).into_response(),
    };
    let body = live.data(window).await;
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response()
}

async fn events(State(live): State<Arc<Live>>, request: Request<axum::body::Body>) -> Response {
    if let Some(refusal) = refused(&live, &request, false) {
        return refusal;
    }
    let window = match window_of(&request) {
        Ok(window) => window,
        Err(why) => return (StatusCode::BAD_REQUEST, why).into_response(),
    };
    (
        [(header::CACHE_CONTROL, "no-store")],
        events::stream(live, window),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn many_viewers_at_once_make_one_read() {
        let telemetry = Telemetry::builder().namespace("live_unit").build().unwrap();
        let source = Arc::new(Source::new(telemetry));
        let viewers: Vec<_> = (0..50)
            .map(|_| {
                let source = source.clone();
                tokio::spawn(async move { source.view(Window::OneMinute).await })
            })
            .collect();
        for viewer in viewers {
            viewer.await.unwrap();
        }
        assert_eq!(source.reads(), 1, "50 viewers in the same second");
        source.view(Window::OneMinute).await;
        assert_eq!(source.reads(), 1, "still the same second");
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(source.reads(), 1, "nothing reads while nobody looks");
        source.view(Window::OneMinute).await;
        assert_eq!(source.reads(), 2, "a viewer a second later: one more read");
        source.view(Window::FiveMinutes).await;
        assert_eq!(source.reads(), 3, "another window is another read");
    }
}
