//! The search service (`SEARCH_URL`), Meilisearch style: `POST /indexes/shops/search` with
//! `{"q": …}` answering `{"hits": [{"id": …}, …]}`.

use std::time::Duration;

use serde::Deserialize;

/// A client of the search service.
#[derive(Debug, Clone)]
pub struct Search {
    base: String,
    client: reqwest::Client,
}

#[derive(Debug, Deserialize)]
struct Hits {
    hits: Vec<Hit>,
}

#[derive(Debug, Deserialize)]
struct Hit {
    id: i64,
}

/// Why the search service did not answer.
#[derive(Debug, thiserror::Error)]
#[error("search service: {0}")]
pub struct SearchError(String);

impl Search {
    /// A client of the service at `base`, bounded by `timeout` per request.
    pub fn new(base: &str, timeout: Duration) -> Result<Search, reqwest::Error> {
        let client = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(Search {
            base: base.trim_end_matches('/').to_owned(),
            client,
        })
    }

    /// The ids of the shops matching `text`, best first.
    #[kansoku::track_database_query("search", "search_index")]
    pub async fn shop_ids(&self, text: &str) -> Result<Vec<i64>, SearchError> {
        #[allow(unused_mut)]
        let mut request = self
            .client
            .post(format!("{}/indexes/shops/search", self.base))
            .json(&serde_json::json!({ "q": text }))
            .build()
            .map_err(|e| SearchError(e.to_string()))?;
        // the search service joins this request's trace
        #[cfg(feature = "instrumented")]
        kansoku::http::inject_trace_headers(request.headers_mut());
        let response = self
            .client
            .execute(request)
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| SearchError(e.without_url().to_string()))?;
        let hits: Hits = response
            .json()
            .await
            .map_err(|e| SearchError(e.without_url().to_string()))?;
        Ok(hits.hits.into_iter().map(|h| h.id).collect())
    }
}
