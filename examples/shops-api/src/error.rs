//! The API's errors and the HTTP answers they become.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// What a handler can fail with. `#[monitor_api_endpoint]` counts each by its type name in
/// `ns_errors_total{endpoint, kind}` and, with Sentry, captures it with its source chain.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("shop {0} not found")]
    NotFound(i64),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("upstream service failed: {0}")]
    Upstream(String),
    #[error("failure requested by the caller")]
    Injected,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ApiError::Database(_) | ApiError::Injected => StatusCode::INTERNAL_SERVER_ERROR,
        };
        // the database's own message stays in the logs and in Sentry, not in the answer
        (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}
